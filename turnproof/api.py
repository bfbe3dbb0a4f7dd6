"""A small Python API, for projects that check a candidate fix in their own test suite:

    from turnproof.api import turnproof_check

    def test_fix_keeps_every_call_answered():
        r = turnproof_check("designs/fix.toml", calls=2)
        assert r.holds, r.summary()

``turnproof_check`` runs the same explorer as `turnproof check` on a named design, a design file
or a ``model.designs.Design``, and returns a ``Check``: the verdict per property ID, the shortest
counterexample of each violated one, and the reports (text, Markdown, JSON, ITF) the command line
writes. Bad input raises ValueError with the same one-line message the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.checks import DEFAULT_MAX_STATES
from turnproof.model.designs import Design
from turnproof.model.properties import PROPERTIES
from turnproof.model.turnloop import FAULTS, Params, TurnLoop, parse_faults
from turnproof.resolve import wire_label


@dataclass
class Check:
    design: Design
    params: Params
    model: TurnLoop
    result: object  # model.explorer.Result

    @property
    def holds(self) -> bool:
        """Every property holds (the CLI's exit code 0): none violated, and the search was not cut
        short by ``max_states``."""
        return not self.result.violations and not self.result.truncated

    @property
    def truncated(self) -> bool:
        """The search stopped at ``max_states``: violations found are real, nothing is shown to hold."""
        return self.result.truncated

    @property
    def verdicts(self) -> dict[str, bool | None]:
        """Property ID -> holds (None: unknown, the search stopped at ``max_states``), in the order of
        model.properties.PROPERTIES."""
        return {pid: False if pid in self.result.violations else (None if self.result.truncated else True)
                for pid in PROPERTIES}

    @property
    def violated(self) -> list[str]:
        return [pid for pid in PROPERTIES if pid in self.result.violations]

    def path_length(self, prop: str) -> int | None:
        """Steps in the shortest counterexample of ``prop`` (None when it holds)."""
        if prop not in PROPERTIES:
            raise ValueError(f"unknown property {prop!r}; property IDs: {', '.join(PROPERTIES)}")
        v = self.result.violations.get(prop)
        return None if v is None else len(v.path) - 1

    def counterexample(self, prop: str):
        """The model.explorer.Violation for ``prop`` (None when it holds)."""
        self.path_length(prop)
        return self.result.violations.get(prop)

    @property
    def faults(self) -> list[str]:
        return [f for f in FAULTS if f in self.params.faults]

    def summary(self) -> str:
        """One line per property, then every counterexample as text (a useful assertion message)."""
        from turnproof.report import violation_text

        lines = [f"turnproof: design {self.design.name} ({wire_label(self.design)}), calls {self.params.calls}, "
                 f"rounds {self.params.rounds}, "
                 f"faults {','.join(self.faults) or 'none'}"]
        if self.design.hooks:
            lines.append("  hooks: " + ", ".join(f"{k} hook {v}" if k != "shape" else f"shape {v}"
                                                 for k, v in self.design.hooks.names))
        lines += [f"  {pid:<19} {'holds' if ok else f'VIOLATED ({self.path_length(pid)} steps)'}"
                  for pid, ok in self.verdicts.items()]
        lines += [violation_text(self.model, self.result.violations[pid]) for pid in self.violated]
        return "\n".join(lines)

    def markdown(self, design_arg: str | None = None) -> str:
        from turnproof.report import markdown_report

        return markdown_report(self.model, self.result, self.faults, design_arg)

    def to_dict(self) -> dict:
        """The document `turnproof check --format json` prints."""
        from turnproof.report import result_dict

        return result_dict(self.model, self.result, self.faults)

    def dot(self, prop: str, radius: int = 1) -> str:
        """Graphviz DOT of the state graph around ``prop``'s counterexample."""
        from turnproof.dot import violation_dot

        v = self.counterexample(prop)
        if v is None:
            raise ValueError(f"{prop} holds for {self.design.name}: there is no counterexample")
        return violation_dot(self.model, v, radius=radius)

    def itf(self, prop: str) -> dict:
        """The ITF trace of ``prop``'s counterexample."""
        from turnproof.itf import violation_itf

        v = self.counterexample(prop)
        if v is None:
            raise ValueError(f"{prop} holds for {self.design.name}: there is no counterexample")
        return violation_itf(self.model, v)


def turnproof_check(design: str | Design, *, calls: int = 3, faults: str | frozenset = "all", turns: int = 2,
                    max_faults: int = 2, retries: int = 1, text: bool = True, reduce: bool = True,
                    wire: str | None = None, provider: str | None = None,
                    max_states: int | None = DEFAULT_MAX_STATES, rounds: int = 2) -> Check:
    """Explore ``design`` (a name, a .toml path or a Design) and judge every property.

    Past ``max_states`` states (None: no limit) the search stops: ``Check.truncated`` is then set
    and ``holds`` is False.

    ``provider`` (a name of docs/providers.md) judges wire-valid by that provider's rules, as
    `turnproof check --provider` does."""
    from turnproof.checks import check_design
    from turnproof.resolve import resolve_design, with_provider

    if isinstance(design, Design):
        d = design
        if wire is not None and wire != d.wire:
            from turnproof.model.designs import with_knobs

            if d.hooks:
                raise ValueError(f"{d.name}: wire={wire!r}: the design's hooks are written for the {d.wire} wire")

            d = with_knobs(d, f"{d.name}@{wire}", wire=wire)
        if provider is not None:
            d = with_provider(d, provider, wire_given=wire is not None)
    else:
        d = resolve_design(str(design), wire, provider)
    fs = parse_faults(faults) if isinstance(faults, str) else frozenset(faults)
    params = Params(calls=calls, turns=turns, faults=fs, retries=retries, max_faults=max_faults,
                    text=text, reduce=reduce, rounds=rounds)
    model, result = check_design(d, params, max_states=max_states)
    return Check(d, params, model, result)
