"""What lint reports: findings (problems a file has) and input errors (files it cannot read).

A finding names the rule broken in the project's vocabulary: a property id
(model.properties.PROPERTIES: calls-answered, no-orphan-results), a provider rule id from
model.provider (chat-missing-tool-response, responses-orphan-output, ...), or lint's own
``torn-last-line``. Provider findings carry the provider's exact error text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from turnproof.model.properties import PROPERTIES
from turnproof.model.provider import PROVIDERS

TORN = "torn-line"
NONSTANDARD = "non-standard-json"
DUPLICATE_KEY = "duplicate-key"
LINT_RULES = {
    TORN: "A line cut short (JSON that just stops): a crash tore the write. "
          "Codex skips it silently on load, so whatever it held is lost.",
    NONSTANDARD: "NaN, Infinity or -Infinity: not JSON (RFC 8259); no provider accepts them.",
    DUPLICATE_KEY: "An object with the same key twice: readers disagree on which value wins, so which "
                   "call or result it is depends on the reader.",
}
assert not set(LINT_RULES) & set(PROPERTIES)


class LintError(ValueError):
    """A file lint cannot read; ``str()`` is one line naming the file and the line or pointer."""


@dataclass
class Finding:
    rule: str
    call_id: str | None
    line: int | None = None  # JSONL files
    pointer: str | None = None  # JSON documents (RFC 6901)
    provider_error: str | None = None  # the provider's exact answer, when the rule is a provider's
    wire: str | None = None  # chat | responses | anthropic | gemini
    design: str | None = None  # the Codex request builder (a model.designs name), when it is one
    message: str | None = None  # for rules no provider words: what is wrong, in one line
    param: str | None = None  # request bodies: the `param` OpenAI reports with the error
    provider: str | None = None  # the provider whose rule this is (model.provider.PROVIDERS_BY_NAME)

    def where(self) -> str:
        if self.line is not None:
            return str(self.line)
        return self.pointer if self.pointer is not None else ""

    def to_json(self, texts: dict | None = None) -> dict:
        """The finding as a dict. With ``texts`` (a file report's table, text -> index, filled in as
        it goes) the provider's text is named by its index, ``provider_error_ref``: one rejection
        names every call it is about, so repeating its text in each finding would make the output
        grow with the square of the calls (lint --json); without, the text itself."""
        d: dict = {"rule": self.rule, "call_id": self.call_id}
        if self.line is not None:
            d["line"] = self.line
        else:
            d["pointer"] = self.pointer
        if texts is None:
            d["provider_error"] = self.provider_error
        else:
            d["provider_error_ref"] = (None if self.provider_error is None
                                       else texts.setdefault(self.provider_error, len(texts)))
        if self.wire:
            d["wire"] = self.wire
            d["provider"] = PROVIDERS[self.wire]
        if self.design:
            d["design"] = self.design
        if self.message:
            d["message"] = self.message
        if self.param:
            d["param"] = self.param
        if self.provider:
            d["provider_name"] = self.provider
        return d

    def sort_key(self) -> tuple:
        return (self.line if self.line is not None else -1, self.pointer or "", self.call_id or "", self.rule)


@dataclass
class BuilderVerdict:
    """Whether one Codex request builder (a named design) accepts the history of a rollout."""

    design: str
    wire: str
    findings: list = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.findings

    def to_json(self, texts: dict | None = None) -> dict:
        return {"design": self.design, "wire": self.wire, "accepted": self.accepted,
                "findings": [f.to_json(texts) for f in self.findings]}


@dataclass
class FileReport:
    path: str
    dialect: str | None
    findings: list = field(default_factory=list)
    builders: list = field(default_factory=list)  # rollouts only
    error: str | None = None  # set when the file could not be read (exit 2)
    provider: str | None = None  # the provider the session used (its findings set the exit code)
    provider_why: str = ""  # how that was decided
    info: list = field(default_factory=list)  # what other providers / builders reject: not counted
    advice: list = field(default_factory=list)  # the next step, in words
    resume: dict | None = None  # rollouts: the release that resumes it, whether it can as it is, the rescue

    def to_json(self) -> dict:
        """The file's entry of `lint --json`: every provider text once, in ``provider_errors``, and
        each finding naming its own by index (``provider_error_ref``), so the document grows
        linearly with the number of problems."""
        texts: dict = {}
        d: dict = {"path": self.path, "dialect": self.dialect,
                   "findings": [f.to_json(texts) for f in sorted(self.findings, key=Finding.sort_key)]}
        if self.builders:
            d["builders"] = [b.to_json(texts) for b in self.builders]
        if self.error is not None:
            d["error"] = self.error
        if self.provider:
            d["provider"] = {"name": self.provider, "why": self.provider_why}
        if self.info:
            d["info"] = [f.to_json(texts) for f in sorted(self.info, key=Finding.sort_key)]
        d["provider_errors"] = list(texts)
        if self.advice:
            d["advice"] = list(self.advice)
        if self.resume is not None:
            d["resume"] = dict(self.resume)
        return d
