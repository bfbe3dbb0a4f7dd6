import sys

from turnproof.cli import main

sys.exit(main())
