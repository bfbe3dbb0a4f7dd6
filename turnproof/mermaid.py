"""A counterexample as a Mermaid sequence diagram, for a pull-request comment.

Lanes: the user, the provider, the model's response stream, the turn loop, the tool tasks and the
rollout file. Each step of the path becomes an arrow (or a note) labelled with its number and the
model's action name, between the lanes that action involves (SendRequest: loop -> provider;
StreamToolCall: stream -> loop, then loop -> tools; DrainOutput: tools -> loop). What the step
recorded is read from the state change, not assumed from the action: every item that went to the
rollout channel is an arrow loop -) file. The step a safety property fails on is shaded and
carries the provider's error text; for graph properties the steps that follow without further
faults are shown after a note, and a cycle is drawn as a Mermaid ``loop`` block.
"""

from __future__ import annotations

import textwrap

from turnproof.model import items as I
from turnproof.model.properties import PROPERTIES
from turnproof.model.provider import Rejection
from turnproof.model.seq import Seq
from turnproof.model.turnloop import TEXT_HELD, State, TurnLoop
from turnproof.resolve import provider_label
from turnproof.steps import step_name

LANES = (("actor", "U", "user"), ("participant", "P", "provider"), ("participant", "M", "model stream"),
         ("participant", "L", "turn loop"), ("participant", "T", "tools"), ("participant", "R", "rollout file"))
_WRAP = 56  # characters per line in notes: Mermaid does not wrap on its own


def escape(text: str) -> str:
    """Mermaid entity codes for the characters its sequence grammar would read as syntax."""
    out = []
    for ch in text:
        if ch in "#;<>`%{}":
            out.append(f"#{ord(ch)};")
        elif ch == "\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def wrap(text: str, width: int = _WRAP) -> str:
    """Escaped text broken into lines of about ``width`` characters with <br/>."""
    # str.split knows more whitespace than textwrap: split first, so both agree on words
    lines = textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)
    return "<br/>".join(escape(x) for x in lines)


def _added(old: tuple | Seq, new: tuple | Seq) -> tuple:
    """Items appended from ``old`` to ``new`` (the rollout channel only ever grows, or is reset)."""
    if new[: len(old)] == old:
        return new[len(old):]
    return ()


def _shown(items: tuple | Seq) -> str:
    real = tuple(it for it in items if it[0] != "turn_aborted")
    if len(real) == len(items):
        return I.show_all(real)
    return (I.show_all(real) + " + " if real else "") + "turn_aborted event"


def _dropped(s: tuple, t: tuple) -> list[str]:
    """Calls whose futures were in flight, not yet drained, and are gone after the step."""
    before, after = State(*s), State(*t)
    if not before.in_flight or after.in_flight:
        return []
    return [f"C{before.base_id + i}" for i in range(before.drained, len(before.in_flight))]


def step_lines(model: TurnLoop, n: int, action: str, arg: object, s: tuple, t: tuple) -> list[str]:
    """The Mermaid statements for step ``n`` (s --action(arg)--> t)."""
    sv, tv = State(*s), State(*t)
    lab = f"{n}. {step_name(action, arg)}"
    out: list[str] = []
    later: list[tuple] = []

    def arrow(src: str, arr: str, dst: str, text: str) -> None:
        out.append(f"    {src}{arr}{dst}: {wrap(text)}")

    def note(where: str, text: str) -> None:
        out.append(f"    Note {where}: {wrap(text)}")

    if action == "UserMessage":
        arrow("U", "->>", "L", f"{lab}: a new turn")
    elif action in ("SendRequest", "RefuseRequest"):
        r = model.request(s)
        if action == "RefuseRequest":
            note("over L", f"{lab}: {I.show_all(r.items)} would be rejected, so it is not sent: "
                           f"{r.rejections[0].text}")
        else:
            stale = model.d.retry_prompt == "reuse" and 0 <= sv.prompt_len < len(sv.history)
            arrow("L", "->>", "P", f"{lab}: {I.show_all(r.items)}"
                  + (" (a retry: the first attempt's prompt, not current history)" if stale else ""))
            if arg == "accepted":
                arrow("P", "-->>", "M", "200: the response streams")
            else:
                rej = r.rejections[0]
                arrow("P", "--x", "L", f"HTTP 400 ({rej.rule})")
                note("over P", rej.text + (f" (param: {rej.param})" if rej.param else ""))
    elif action == "StreamReasoning":
        arrow("M", "->>", "L", f"{lab}: reasoning")
    elif action == "StreamText":
        held = tv.text == TEXT_HELD
        arrow("M", "->>", "L", f"{lab}: assistant text" + (" (held until the stream completes)" if held else ""))
    elif action == "StreamToolCall":
        cid = tv.base_id + len(tv.in_flight) - 1
        arrow("M", "->>", "L", f"{lab}: call C{cid}")
        infl = ", ".join(f"C{tv.base_id + i}" for i in range(len(tv.in_flight)))
        later.append(("L", "-)", "T", f"spawn C{cid} (in_flight: {infl})"))
    elif action == "StreamCompleted":
        arrow("M", "->>", "L", f"{lab}: Completed, then drain_in_flight")
    elif action == "StreamError":
        arrow("M", "--x", "L", f"{lab}: stream error")
    elif action == "StreamClosed":
        arrow("M", "--x", "L", f"{lab}: stream closed early; the drain runs")
    elif action == "ToolFinish":
        arrow("T", "-->>", "L", f"{lab}: done")
    elif action == "ToolFail":
        arrow("T", "--x", "L", f"{lab}: failed")
    elif action == "ToolAbort":
        arrow("T", "-->>", "L", f"{lab}: aborted by user")
    elif action == "DrainOutput":
        arrow("T", "->>", "L", f"{lab}: output taken, in call order")
    elif action == "DrainFailed":
        note("over L", f"{lab}: the head of in_flight failed: logged, no output")
    elif action == "Interrupt":
        arrow("U", "->>", "L", f"{lab}: cancel the turn")
        if sv.in_flight[sv.drained:]:
            arrow("L", "-)", "T", "cancellation token fires")
    elif action == "HardAbort":
        note("over L,T", f"{lab}: the 100 ms grace is over; the task is aborted mid-drain")
    elif action == "TurnAborted":
        note("over L", f"{lab}: the task has ended; the session is idle")
    elif action == "Crash":
        note("over U,R", f"{lab}: the process dies; {arg} queued lines reached the file, "
                         f"which now holds {I.show_all(tuple(i for i in tv.file if i[0] != 'turn_aborted'))}")
    elif action == "Resume":
        arrow("R", "->>", "L", f"{lab}: replay {_shown(sv.file)}, normalized to {I.show_all(tv.history)}")
    elif action == "ResumeRefused":
        arrow("R", "--x", "L", f"{lab}: the file has calls without output; the session cannot resume")
    else:  # an action added to the model later still shows, as a note
        note("over L", f"{lab} {'' if arg is None else arg}".strip())
    gone = _dropped(s, t) if action in ("StreamError", "HardAbort") else []
    if gone:
        arrow("L", "--x", "T", f"in_flight dropped: {', '.join(gone)} get no output")
    if action != "Crash":  # memory first, then the rollout channel, then anything else the step did
        rec = _added(sv.queue, tv.queue)
        if rec:
            arrow("L", "-)", "R", f"record {_shown(rec)}")
    for a in later:
        arrow(*a)
    return out


def _header(model: TurnLoop) -> list[str]:
    lines = ["sequenceDiagram"]
    for kind, key, name in LANES:
        if key == "P":
            name = f"provider ({provider_label(model.d)})"
        lines.append(f"    {kind} {key} as {escape(name)}")
    return lines


def sequence_diagram(model: TurnLoop, v) -> str:
    """The Mermaid source (without the Markdown fence) for violation ``v`` of ``model``."""
    lines = _header(model)
    path = v.path
    last = len(path) - 1
    for n in range(1, len(path)):
        (_, _, s), (action, arg, t) = path[n - 1], path[n]
        body = step_lines(model, n, action, arg, s, t)
        if n == last and PROPERTIES[v.prop].kind == "always":
            lines.append("    rect rgb(255, 228, 228)")
            lines += ["    " + b for b in body]
            lines.append("    end")
        else:
            lines += body
    lines.append(f"    Note over U,R: {wrap('VIOLATED ' + v.prop + ': ' + _detail(v))}")
    if v.continuation:
        lines.append(f"    Note over U,R: {wrap('and from here, without further faults:')}")
        prev = path[-1][2]
        for k, (action, arg, t) in enumerate(v.continuation, start=len(path)):
            lines += step_lines(model, k, action, arg, prev, t)
            prev = t
    if v.cycle:
        lines.append(f"    loop {escape('this can repeat forever')}")
        prev = path[-1][2]
        for k, ((action, arg), t) in enumerate(v.cycle, start=len(path)):
            lines += ["    " + b for b in step_lines(model, k, action, arg, prev, t)]
            prev = t
        lines.append("    end")
    return "\n".join(lines)


def _detail(v) -> str:
    if isinstance(v.detail, Rejection):
        return "the provider rejects the request"
    return str(v.detail)
