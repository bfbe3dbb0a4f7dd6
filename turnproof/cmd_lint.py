"""`turnproof lint` and `turnproof repair`: the command-line side of turnproof/lint/.

lint exit codes: 0 no findings, 1 findings, 2 a file could not be read (the others are still
linted and reported). repair (every dialect lint reads) exit codes, as turnproof/exitcodes.py
defines them: 0 written (or nothing to repair) and clean for the provider; 1 refused with nothing
written (a tool result would be lost, or no order is sent by the release that resumes a rollout),
or written but still rejected for a reason that is not pairing; 2 unreadable input (whatever lint
refuses, and keys that appear twice) or usage error, nothing written. A repaired JSON document is
written back as indented JSON.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time

from turnproof.model.designs import NAMED
from turnproof.model.provider import NAMES as PROVIDER_NAMES, PROVIDERS, PROVIDERS_BY_NAME

from turnproof.jsondoc import document
from turnproof.exitcodes import EXIT_OK, EXIT_USAGE as EXIT_INPUT, EXIT_VIOLATED as EXIT_FINDINGS, UsageError
from turnproof.lint import DEFAULT_MAX_LINE, DIALECTS, FileReport, LintError, expand, lint_path, sniff
from turnproof.fileio import spooled
from turnproof.lint.bodies import UNKNOWN, detect, load_document_strict
from turnproof.lint.findings import DUPLICATE_KEY, NONSTANDARD
from turnproof.lint.repair import (CannotRepair, document_bytes, repair_in_place, repair_to, replace_in_place,
                                   write_document)
from turnproof.lint.repair_bodies import repair_document
from turnproof.lint.repair_claude import repair_claude

STDIN_NAME = "<stdin>"  # how `-` is named in messages



class Progress:
    """Progress on stderr, at most twice a second: on request, or by itself when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = 0.0
        self.path = ""
        self.size = 1
        self.shown = False

    def start(self, path: str) -> None:
        self.path = path
        try:
            self.size = max(1, os.path.getsize(path))
        except OSError:
            self.size = 1

    def __call__(self, done: int, rpass: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        self.shown = True
        step = f"pass {rpass}/2, " if rpass else ""
        sys.stderr.write(f"\r{self.path}: {step}{done / 1e6:,.0f} of {self.size / 1e6:,.0f} MB "
                         f"({100 * done / self.size:.0f}%)   ")
        sys.stderr.flush()

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False


def _common(p) -> None:
    p.add_argument("--dialect", choices=DIALECTS, help="the file format (default: detected)")
    p.add_argument("--max-line-mb", type=float, default=DEFAULT_MAX_LINE / (1 << 20), metavar="MB",
                   help=f"longest line (or JSON document) read, in MiB (default {DEFAULT_MAX_LINE >> 20})")
    p.add_argument("--progress", action="store_true", help="report progress on stderr (default: when it is a terminal)")


MAX_LINE_MB_CAP = 1 << 20  # 1 TiB: beyond any file, and still an int


def _max_line(args) -> int:
    mb = args.max_line_mb
    if not (math.isfinite(mb) and mb > 0):
        raise UsageError(f"--max-line-mb must be a positive number of MiB, not {mb}")
    n = int(min(mb, MAX_LINE_MB_CAP) * (1 << 20))
    if n < 1:
        raise UsageError(f"--max-line-mb {mb} is less than a byte")
    return n


def _read_all(path: str, max_line: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(max_line + 1)


# ---- lint --------------------------------------------------------------------------------------
def add_lint_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories to search for .jsonl/.json files")
    _common(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--design", action="append", default=[], metavar="NAME",
                   help="count this design's request builder rejections as findings (rollouts; repeatable)")
    p.add_argument("--provider", choices=PROVIDER_NAMES, default=None,
                   help="judge for this provider (default: the one the session used: a rollout's session_meta, "
                        "a body's model field or wire)")
    p.add_argument("--max-findings", type=int, default=20, metavar="N",
                   help="problem calls printed per file (default 20; --json has them all)")


def run_lint(args) -> int:
    designs = tuple(_builder(d) for d in args.design)
    if args.max_findings < 0:
        raise UsageError("--max-findings must be >= 0")
    max_line = _max_line(args)
    files = expand(args.paths)
    if not files:
        raise UsageError("no .jsonl or .json files found under " + ", ".join(args.paths))
    if files.count("-") > 1:
        raise UsageError("- (stdin) given more than once")
    prog = Progress(args.progress or sys.stderr.isatty())
    reports = []
    for path in files:
        prog.start(path)
        try:
            rep = lint_path(path, args.dialect, designs, max_line, prog if prog.enabled else None,
                            provider=args.provider)
        except ValueError as e:  # a provider that does not serve this file's wire
            rep = FileReport(path, args.dialect, error=f"{path}: {e}")
        prog.end()
        if path == "-":  # name stdin as such
            rep.path = STDIN_NAME
            rep.error = rep.error and rep.error.replace("-: ", f"{STDIN_NAME}: ", 1)
        reports.append(rep)
        if rep.error:
            print(f"turnproof lint: error: {_safe(rep.error)}", file=sys.stderr)
        if not args.json:
            _print_report(rep, args.max_findings)
    if args.json:
        # ASCII escapes: valid UTF-8 whatever the file held (lone surrogates included)
        print(json.dumps(document("lint", {"files": [r.to_json() for r in reports]}), indent=2, ensure_ascii=True))
    elif len(reports) > 1:
        bad = sum(1 for r in reports if r.findings)
        errs = sum(1 for r in reports if r.error)
        print(f"{len(reports)} files: {bad} with findings, {errs} unreadable")
    if any(r.error for r in reports):
        return EXIT_INPUT
    return EXIT_FINDINGS if any(r.findings for r in reports) else EXIT_OK


def _builder(arg: str):
    """A --design: a named design (by name) or a design file (the Design it describes)."""
    if arg in NAMED:
        return arg
    from turnproof.resolve import is_design_file, resolve_design

    if is_design_file(arg):
        d = resolve_design(arg)
        if d.hooks:  # lint judges with the model's own builders, never a user's code
            raise UsageError(f"{arg}: a design with hooks cannot judge a session file here; "
                             f"`turnproof check --design {arg}` explores it and `turnproof fuzz` checks its repair")
        return d
    raise UsageError(f"unknown design {arg!r}; named designs: {', '.join(NAMED)} (or a design file)")


def _safe(text: object) -> str:
    """Printable whatever the file held: lone surrogates and other unencodable characters escaped."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _who(f) -> str:
    if f.design:
        return f"codex builder {f.design}"
    if f.provider:
        return PROVIDERS_BY_NAME[f.provider].title
    if f.wire:
        return PROVIDERS.get(f.wire, f.wire)
    return ""


def group_by_call(findings: list) -> list[tuple]:
    """[(where, call id, findings)] in file order: one entry per problem call (linear)."""
    groups: dict = {}
    for f in sorted(findings, key=lambda f: f.sort_key()):
        key = (f.call_id, f.line if f.call_id is None else None, f.pointer if f.call_id is None else None)
        groups.setdefault(key, []).append(f)
    return [(fs[0], key[0], fs) for key, fs in groups.items()]


def _print_report(rep, cap: int) -> None:
    if rep.error:
        return
    groups = group_by_call(rep.findings)
    info = {cid: fs for _, cid, fs in group_by_call(rep.info)}
    for first, cid, fs in groups[:cap]:
        where = f"{rep.path}:{first.line}" if first.line is not None else f"{rep.path}: {first.pointer}"
        rules = ", ".join(dict.fromkeys(f.rule for f in fs))
        text = next((f.provider_error for f in fs if f.provider_error), None) or next(
            (f.message for f in fs if f.message), "")
        if len(text) > 240:  # a provider text listing every missing id: once per line would be quadratic
            text = text[:200] + f"... ({len(text)} characters; the full text with --json)"
        also = sorted({_who(f) for f in info.get(cid, ()) if _who(f)} - {_who(f) for f in fs})
        tail = f" (also rejected by {', '.join(also)})" if also and cid is not None else ""
        by = sorted({_who(f) for f in fs if _who(f)})
        print(_safe(f"{where}: {cid or '-'}: {rules}" + (f" [{', '.join(by)}]" if by else "") + f": {text}{tail}"))
    if len(groups) > cap:
        print(f"{rep.path}: ... {len(groups) - cap} more problem calls (all of them with --json)")
    for a in rep.advice:
        print(f"{rep.path}: next step: {a}")
    if rep.resume is not None:
        print(_safe(f"{rep.path}: {rep.resume['text']}"))
    n = len(groups)
    problem_ids = {c for _, c, _ in groups}  # once: inside the comprehension it was quadratic
    calls_info = len([1 for _, cid, _ in group_by_call(rep.info) if cid is not None and cid not in problem_ids])
    who = f" for {PROVIDERS_BY_NAME[rep.provider].title}" if rep.provider else ""
    extra = (f"; {calls_info} more call{'s' if calls_info != 1 else ''} only other providers or Codex builders "
             f"reject (--json, or --provider NAME)") if calls_info else ""
    how = f" [{rep.provider_why}]" if rep.provider_why else ""
    print(_safe(f"{rep.path}: {rep.dialect}: " + (f"{n} problem call{'s' if n != 1 else ''}"
                                                    f" ({len(rep.findings)} findings){who}" if n else f"clean{who}")
                + extra + how))


# ---- repair ------------------------------------------------------------------------------------
def add_repair_arguments(p) -> None:
    p.add_argument("path", metavar="FILE", help="a session file or request body of any dialect lint reads")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("-o", "--output", metavar="OUT", help="write the repaired file here")
    g.add_argument("--in-place", action="store_true", help="repair FILE itself, keeping a backup beside it")
    _common(p)
    p.add_argument("--provider", choices=PROVIDER_NAMES, default=None,
                   help="request bodies: repair for this provider (default: the one the body was meant for, "
                        "as lint finds it)")
    p.add_argument("--json", action="store_true", help="print the edits as JSON")
    p.add_argument("--for", dest="for_design", metavar="DESIGN",
                   help="the loop that will resume a rollout: a named design or a design file "
                        "(default: the release and provider in its session_meta)")


def run_repair(args) -> int:
    """Exit 0: written (or nothing to repair); 1: not repaired because a tool result would be lost, or no
    order is sent by the loop that resumes the rollout (nothing written), or written but the provider
    in use still rejects something that is not pairing; 2: unreadable input or usage."""
    max_line = _max_line(args)
    path = args.path
    to_stdout = not args.in_place and args.output == "-"
    if to_stdout and args.json:
        raise UsageError("-o - and --json both want stdout; write the repaired file elsewhere")
    if path == "-" or (not os.path.isfile(path) and os.path.exists(path) and not os.path.isdir(path)):
        if args.in_place:  # a pipe, a FIFO, /dev/stdin: read once, into a private copy
            raise UsageError(f"{_shown(path)}: --in-place needs a regular file, not a pipe; use -o OUT")
        with spooled(path) as real:
            return _repair(real, _shown(path), args, max_line, to_stdout)
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a regular file")
    return _repair(path, path, args, max_line, to_stdout)


def _shown(path: str) -> str:
    return STDIN_NAME if path == "-" else path


def _repair(path: str, shown: str, args, max_line: int, to_stdout: bool) -> int:
    """Repair ``path``, a regular file (``shown`` names it in messages)."""
    try:
        return _repair_file(path, shown, args, max_line, to_stdout)
    except UsageError as e:
        raise UsageError(str(e).replace(path, shown)) from None


def _repair_file(path: str, shown: str, args, max_line: int, to_stdout: bool) -> int:
    dialect = args.dialect or _sniff(path)
    prog = Progress(args.progress or sys.stderr.isatty())
    prog.start(path)
    if not args.in_place and not to_stdout and os.path.exists(args.output) and os.path.samefile(args.output, path):
        raise UsageError(f"{args.output}: is the input file; use --in-place to repair it in place")
    if dialect == "codex-rollout":
        try:
            return _rollout(path, shown, args, max_line, to_stdout, prog)
        except CannotRepair as e:
            print(f"turnproof repair: {str(e).replace(path, shown)}", file=sys.stderr)
            return EXIT_FINDINGS
        except LintError as e:
            raise UsageError(str(e)) from None
        except OSError as e:  # the folder refuses the temporary file or the backup
            raise UsageError(f"{e.filename or path}: cannot write: {e.strerror or e}") from None
        finally:
            prog.end()
    if args.for_design is not None:
        raise UsageError(f"{path}: --for names the loop that resumes a Codex rollout; this is "
                         f"{dialect or 'a JSON document'}")
    left: list = []
    try:
        target, backup = (path if args.in_place else "-" if to_stdout else args.output), None
        if dialect == "claude-code":
            data, edits = repair_claude(path, max_line)
            data = data if edits else None
        else:
            doc, strict = load_document_strict(path, max_line)
            dialect = dialect or detect(doc)
            if dialect is None:
                raise LintError(f"{path}: {UNKNOWN}; name the dialect with --dialect ({', '.join(DIALECTS)})")
            # a key twice: which value a reader takes is a guess, and repairing on it could drop a real
            # result; NaN / Infinity: no provider accepts the file, and no repair of pairing changes that
            odd = [f for f in strict if f.rule in (DUPLICATE_KEY, NONSTANDARD)]
            if odd:
                raise LintError(f"{path}: {odd[0].message}: not repaired (lint names every one)")
            new, edits, left = repair_document(doc, dialect, path, args.provider)
            data = document_bytes(new, path) if edits else None  # any error comes before anything is written
        if args.in_place:
            if data is not None:
                backup = replace_in_place(path, lambda w: w.write(data), lambda staged: False)
        elif to_stdout:
            _to_stdout(data if data is not None else _read_all(path, max_line))
        else:  # nothing to repair: the bytes as they were, never re-serialized
            write_document(args.output, data if data is not None else _read_all(path, max_line), like=path)
    except CannotRepair as e:
        print(f"turnproof repair: {str(e).replace(path, shown)}", file=sys.stderr)
        return EXIT_FINDINGS
    except LintError as e:
        raise UsageError(str(e)) from None
    except OSError as e:  # the folder refuses the temporary file or the backup
        raise UsageError(f"{e.filename or path}: cannot write: {e.strerror or e}") from None
    finally:
        prog.end()
    path = shown
    code = EXIT_FINDINGS if left else EXIT_OK
    if args.json:
        print(json.dumps(document("repair", {
            "path": path, "dialect": dialect, "output": target, "backup": backup,
            "edits": [e.to_json() for e in edits], "still_rejected": [f.to_json() for f in left]}),
            indent=2, ensure_ascii=False))
        return code
    say = (lambda line: print(line, file=sys.stderr)) if to_stdout else print  # stdout holds the file
    for e in edits:
        say(f"{path}: {e.describe()}")
    if args.in_place:
        if backup is None:
            say(f"{path}: nothing to repair; file left as it was")
        else:
            say(f"{path}: repaired in place ({len(edits)} edits); the original is kept at {backup}")
    else:
        say(f"{'<stdout>' if to_stdout else target}: written ({len(edits)} edits"
            + ("" if edits else ": nothing to repair") + ")")
    for f in left:
        where = f.pointer if f.pointer is not None else f.line
        say(f"{'<stdout>' if to_stdout else target}: {where}: still rejected by {_provider_title(f)} ({f.rule}): "
            f"{f.provider_error or f.message} (not a pairing problem: repair does not change it)")
    return code


def _sniff(path: str) -> str | None:
    try:
        return sniff(path)
    except LintError as e:
        raise UsageError(str(e)) from None


def _provider_title(f) -> str:
    return PROVIDERS_BY_NAME[f.provider].title if f.provider in PROVIDERS_BY_NAME else "the provider"


def _rollout(path: str, shown: str, args, max_line: int, to_stdout: bool, prog) -> int:
    """A Codex rollout, laid out for the loop that resumes it (turnproof/lint/rescue.py).

    Chat releases need their own layout (rescue.rescue_*); the Responses wire needs only pairing
    (repair.repair_*), and the file written is then checked through the release's builder. Exit 1,
    nothing written, when no order of the history is sent by that release.
    """
    from turnproof.lint import rescue

    cb = prog if prog.enabled else None
    try:
        reader = rescue.reader_for(path, args.for_design)
    except ValueError as e:
        raise UsageError(str(e)) from None
    judged = PROVIDERS_BY_NAME[reader.provider].title if reader.provider else PROVIDERS[reader.design.wire]
    say = (lambda line: print(_safe(line), file=sys.stderr)) if to_stdout else (lambda line: print(_safe(line)))
    head = f"{shown}: resumed by {rescue.describe_design(reader.design)}; judged by {judged} [{reader.why}]"
    pairing = rescue.layout_for(reader.design) == rescue.AS_RECORDED

    # the pairing repair's grouping: OpenAI's Responses takes a result anywhere after its call, DeepSeek's
    # wants each call's results before the next assistant message, turnproof-proposed's chat its runs
    grouping = "run" if reader.design.wire != "responses" else "calls" if reader.provider == "deepseek" else "set"

    def write_to(out: str) -> list:
        return (repair_to(path, out, max_line, cb, grouping) if pairing
                else rescue.rescue_to(path, out, reader, max_line, cb))

    try:
        if args.in_place:
            edits, backup = (repair_in_place(path, max_line, cb, grouping) if pairing
                             else rescue.rescue_in_place(path, reader, max_line, cb))
            target, verdict = path, (rescue.check_rollout(path, reader, max_line) if pairing else None)
        elif to_stdout:
            with tempfile.TemporaryDirectory(prefix="turnproof-repair-") as tmp:
                staged = os.path.join(tmp, "repaired.jsonl")
                edits = write_to(staged)
                verdict = rescue.check_rollout(staged, reader, max_line) if pairing else None
                prog.end()
                with open(staged, "rb") as f:
                    _to_stdout(f)
            backup, target = None, "-"
        else:
            edits = write_to(args.output)
            backup, target = None, args.output
            verdict = rescue.check_rollout(target, reader, max_line) if pairing else None
    except rescue.RescueImpossible as e:
        if args.json:
            print(json.dumps(document("repair", {"path": shown, "output": None, "backup": None,
                                                 "design": reader.design.name, "rescued": False, "edits": [], "reason": e.reason,
                                                 "line": e.line, "upgrade": e.upgrade}), indent=2, ensure_ascii=False))
        else:
            say(head)
            say(str(e).replace(path, shown))
        return EXIT_FINDINGS
    ok = verdict is None or verdict.ok  # the rescue verifies every chunk before it writes it
    changed = [e for e in edits if getattr(e, "changes", True)]
    if args.json:
        print(json.dumps(document("repair", {"path": shown, "output": target, "backup": backup,
                                             "design": reader.design.name, "rescued": ok,
                                             "reason": None if ok else verdict.reason,
                                             "edits": [e.to_json() for e in edits]}), indent=2, ensure_ascii=False))
        return EXIT_OK if ok else EXIT_FINDINGS
    say(head)
    for e in edits:
        say(f"{shown}: {e.describe()}")
    if args.in_place:
        if backup is None:
            say(f"{shown}: nothing to repair; file left as it was")
        else:
            say(f"{shown}: repaired in place ({len(changed)} edits); the original is kept at {backup}")
    else:
        say(f"{'<stdout>' if to_stdout else target}: written ({len(changed)} edits"
            + ("" if changed else ": nothing to repair") + ")")
    if not ok:
        say(f"{shown}: still not sent by {reader.design.name}: {verdict.reason}")
        return EXIT_FINDINGS
    say(f"{shown}: resumed, {reader.design.name} sends a request the provider accepts, with every recorded result")
    return EXIT_OK


def _to_stdout(data) -> None:
    """Bytes (or a binary file's contents) on stdout, for `-o -`; a reader that has gone is no error."""
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    try:
        if out is None:  # a text-only stdout (a test's capture)
            sys.stdout.write((data if isinstance(data, bytes) else data.read()).decode("utf-8"))
            return
        if isinstance(data, bytes):
            out.write(data)
        else:
            shutil.copyfileobj(data, out, 1 << 20)
        out.flush()
    except BrokenPipeError:
        gone = getattr(sys.stdout, "gone", None)
        if gone:
            gone()

