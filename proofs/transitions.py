"""The abstract transitions: one per model action, same names, guard first, then effect.

Each action maps (design, state, params, choices) to a list of cases ``(guard, next_state)``.
``choices`` are the action's free arguments (the tool index, whether the provider accepts, facts
the abstraction cannot compute); a step exists when some choice satisfies a case's guard. Each
function cites the model function in model/turnloop.py whose guard and effect it copies.

Faults are not counted here: the model allows each kind once and at most ``max_faults``; the
abstraction allows every enabled fault at any time, which only adds behaviour.
"""

from __future__ import annotations

import z3

from ..model import turnloop as M
from ..model.designs import Design

from .abstract import (ABORTED, CANCEL, DONE, DOWN, DRAIN, FAILED, IDLE, READY, REFUSED, RUNNING, STREAM,
                       USED, X_COMPLETED, X_ERROR, X_NONE, Params, fresh_prompt, fresh_state, h_assistant, h_call,
                       h_close, h_outputs, h_user, merge, ok_props)

ACTION_NAMES = tuple(M.ACTIONS)


def _hist(s: dict) -> dict:
    return {k: s[k] for k in ("hok", "aut", "plo", "phi", "rc", "rtac", "gok")}


def _set(s: dict, **kw) -> dict:
    out = dict(s)
    out.update(kw)
    return out


class Choices:
    """The free arguments of one action (fresh z3 constants, named after the action)."""

    def __init__(self, action: str, tag: str = ""):
        self.action, self.tag = action, tag
        self.vars: dict = {}

    def int(self, name: str):
        return self.vars.setdefault(name, z3.Int(f"{self.action}.{name}{self.tag}"))

    def bool(self, name: str):
        return self.vars.setdefault(name, z3.Bool(f"{self.action}.{name}{self.tag}"))


class Encoding:
    """The abstract transition relation of one design."""

    def __init__(self, design: Design, faults: frozenset = frozenset(M.FAULTS), reduced: bool = False,
                 max_faults: int | None = None):
        self.d = design
        self.faults = frozenset(faults)
        # max_faults: the model's budget (each kind once, at most this many); None: no budget
        self.max_faults = max_faults
        # reduced: the model's first reduction (only the head of the drain resolves), for BMC
        self.reduced = reduced

    def may(self, fault: str) -> bool:
        return fault in self.faults

    # ---- shared effects --------------------------------------------------------------------------
    def record(self, s: dict, kind: str, cid=None, count=None, real: bool = True) -> dict:
        """_record: the item goes to the history and to the rollout queue."""
        h = _hist(s)
        if kind == "user":
            h = h_user(self.d, h)
        elif kind in ("reasoning", "text"):
            h = h_assistant(self.d, h, kind == "text")
        elif kind == "call":
            h = h_call(self.d, h, cid)
        else:
            h = h_outputs(self.d, h, cid, 1 if count is None else count)
        out = _set(s, **h)
        if kind == "output":
            n = 1 if count is None else count
            # outputs answer calls in flight (recorded, per ifr) that no output answered yet
            fits = z3.And(s["ifr"], s["base"] <= cid, cid + n <= s["base"] + s["nf"])
            out["wf"] = z3.And(s["wf"], fits, cid >= s["omax"])
            out["fwf"] = z3.And(s["fwf"], fits, cid >= s["fomax"])
            out["omax"] = z3.If(cid + n > s["omax"], cid + n, s["omax"])
            out["fomax"] = z3.If(cid + n > s["fomax"], cid + n, s["fomax"])
            if real:
                out["quiet"] = z3.BoolVal(False)
        return out

    def end_turn(self, s: dict, p: Params) -> dict:
        return _set(s, ph=z3.IntVal(IDLE), cok=z3.BoolVal(False), nc=z3.IntVal(0), rsn=z3.BoolVal(False),
                    txt=z3.IntVal(0), nf=z3.IntVal(0), dr=z3.IntVal(0), ex=z3.IntVal(X_NONE), rt=p.R,
                    pr=z3.BoolVal(False), ptx=z3.BoolVal(False))

    def lose_in_flight(self, s: dict) -> dict:
        """_lose_in_flight: undrained calls get no output, or recorded synthetic ones."""
        t = _set(s, nf=z3.IntVal(0), dr=z3.IntVal(0))
        if not self.d.persist_synthetic:
            return t
        lost = s["dr"] < s["nf"]
        rec = _set(self.record(s, "output", s["base"] + s["dr"], s["nf"] - s["dr"], real=False),
                   nf=z3.IntVal(0), dr=z3.IntVal(0))
        return merge(lost, rec, t)

    def retry_or_end(self, s: dict, p: Params) -> dict:
        pr = s["pr"] if self.d.retry_prompt == "reuse" else z3.BoolVal(False)
        again = _set(s, ph=z3.IntVal(READY), rt=s["rt"] - 1, pr=pr, ex=z3.IntVal(X_NONE), ptx=z3.BoolVal(False),
                     nc=z3.IntVal(0), rsn=z3.BoolVal(False), txt=z3.IntVal(0))
        return merge(s["rt"] > 0, again, self.end_turn(s, p))

    def after_drain(self, s: dict, p: Params) -> dict:
        """_after_drain: leave the drain once every output is recorded (unless cancelled)."""
        wait = z3.Or(s["dr"] < s["nf"], s["ph"] == CANCEL)
        t = merge(s["ptx"], self.record(s, "text"), s)
        follow = _set(t, ph=z3.IntVal(READY), nf=z3.IntVal(0), dr=z3.IntVal(0), pr=z3.BoolVal(False), rt=p.R,
                      ex=z3.IntVal(X_NONE), ptx=z3.BoolVal(False), nc=z3.IntVal(0), rsn=z3.BoolVal(False),
                      txt=z3.IntVal(0))
        completed = merge(t["nf"] > 0, follow, self.end_turn(t, p))
        error = self.retry_or_end(_set(s, nf=z3.IntVal(0), dr=z3.IntVal(0)), p)
        return merge(wait, s, merge(s["ex"] == X_COMPLETED, completed, error))

    def accepted(self, s: dict, c: Choices):
        """Whether the provider accepts: free, except where the abstraction knows the verdict."""
        acc = c.bool("accepted")
        fr = fresh_prompt(self.d, s)
        ok = ok_props(self.d, s)["wire-valid"]
        # a reused prompt was accepted before (the stream started); the same body is accepted again
        return acc, z3.And(z3.Implies(z3.And(fr, ok), acc), z3.Implies(z3.Not(fr), acc))

    # ---- the actions (model/turnloop.py TurnLoop.successors, in its order) -----------------------
    def UserMessage(self, s, p, c):  # _user_message
        g = z3.And(s["ph"] == IDLE, s["turns"] > 0)
        t = self.record(s, "user")
        t = _set(t, ph=z3.IntVal(READY), turns=s["turns"] - 1, tn0=z3.BoolVal(False), cok=s["tn0"],
                 nc=z3.IntVal(0), rsn=z3.BoolVal(False), txt=z3.IntVal(0), nf=z3.IntVal(0), dr=z3.IntVal(0),
                 base=s["nxt"], ex=z3.IntVal(X_NONE), rt=p.R, pr=z3.BoolVal(False), ptx=z3.BoolVal(False))
        return [(g, t)]

    def SendRequest(self, s, p, c):  # _send
        acc, known = self.accepted(s, c)
        g = z3.And(s["ph"] == READY, known)
        fr = fresh_prompt(self.d, s)
        ok = ok_props(self.d, s)
        stream = _set(s, ph=z3.IntVal(STREAM), nc=z3.IntVal(0), rsn=z3.BoolVal(False), txt=z3.IntVal(0),
                      nf=z3.IntVal(0), dr=z3.IntVal(0), base=s["nxt"], pr=z3.BoolVal(True), ex=z3.IntVal(X_NONE),
                      ptx=z3.BoolVal(False), ifr=z3.BoolVal(True))
        remembered = _set(stream, quiet=z3.BoolVal(True), pca=ok["calls-answered"],
                          porph=ok["no-orphan-results"], pwire=ok["wire-valid"])
        cases = [(z3.And(g, acc), merge(fr, remembered, stream) if fr is not True else remembered)]
        if not self.d.validate_before_send:
            rejected = s if self.d.retry_rejected else self.end_turn(s, p)
            cases.append((z3.And(g, z3.Not(acc)), rejected))
        return cases

    def RefuseRequest(self, s, p, c):  # _send with validate_before_send
        if not self.d.validate_before_send:
            return []
        acc, known = self.accepted(s, c)
        return [(z3.And(s["ph"] == READY, known, z3.Not(acc)), self.end_turn(s, p))]

    def _streaming(self, s):
        return z3.And(s["ph"] == STREAM, s["cok"], s["txt"] != 2)

    def StreamReasoning(self, s, p, c):
        g = z3.And(self._streaming(s), z3.Not(s["rsn"]), s["nc"] == 0, s["txt"] == 0)
        return [(g, _set(self.record(s, "reasoning"), rsn=z3.BoolVal(True)))]

    def StreamText(self, s, p, c):
        g = z3.And(self._streaming(s), s["txt"] == 0)
        if self.d.text_lands == "as-streamed":
            return [(g, _set(self.record(s, "text"), txt=z3.IntVal(1)))]
        return [(g, _set(s, txt=z3.IntVal(2)))]  # sse/chat.rs holds aggregated text to the end

    def StreamToolCall(self, s, p, c):
        g = z3.And(self._streaming(s), s["nc"] < p.N)
        t = self.record(s, "call", s["nxt"])
        t = _set(t, nc=s["nc"] + 1, infl=z3.Store(s["infl"], s["nf"], RUNNING), nf=s["nf"] + 1, nxt=s["nxt"] + 1)
        return [(g, t)]

    def StreamCompleted(self, s, p, c):  # _completed
        held = s["txt"] == 2
        if self.d.drain_before_completed:
            t, ptx = s, held
        else:
            t, ptx = merge(held, self.record(s, "text"), s), z3.BoolVal(False)
        t = _set(t, ph=z3.IntVal(DRAIN), ex=z3.IntVal(X_COMPLETED), cok=z3.BoolVal(False), ptx=ptx)
        return [(s["ph"] == STREAM, self.after_drain(t, p))]

    def _faultable_stream(self, s):
        return z3.And(s["ph"] == STREAM, s["cok"])

    def StreamError(self, s, p, c):  # _stream_error
        if not self.may("stream-error"):
            return []
        g = self._faultable_stream(s)
        if self.d.drain_on_stream_error:
            t = _set(s, ph=z3.IntVal(DRAIN), ex=z3.IntVal(X_ERROR), ptx=z3.BoolVal(False))
            return [(g, self.after_drain(t, p))]
        return [(g, self.retry_or_end(self.lose_in_flight(s), p))]

    def StreamClosed(self, s, p, c):
        if not self.may("stream-closed"):
            return []
        t = _set(s, ph=z3.IntVal(DRAIN), ex=z3.IntVal(X_ERROR), ptx=z3.BoolVal(False))
        return [(self._faultable_stream(s), self.after_drain(t, p))]

    def Interrupt(self, s, p, c):  # _interrupt
        if not self.may("interrupt"):
            return []
        g = z3.Or(self._faultable_stream(s), s["ph"] == DRAIN)
        return [(g, _set(s, ph=z3.IntVal(CANCEL), ptx=z3.BoolVal(False)))]

    def _tool(self, s, c, extra, status):
        """_tool_actions, unreduced: any running future may resolve (the model's reduction picks the head)."""
        i = c.int("i")
        g = z3.And(z3.Or(s["ph"] == STREAM, s["ph"] == DRAIN, s["ph"] == CANCEL), 0 <= i, i < s["nf"],
                   s["infl"][i] == RUNNING, extra)
        if self.reduced:
            g = z3.And(g, s["ph"] != STREAM, i == s["dr"])
        return [(g, _set(s, infl=z3.Store(s["infl"], i, status)))]

    def ToolFinish(self, s, p, c):
        return self._tool(s, c, True, DONE)

    def ToolFail(self, s, p, c):
        return self._tool(s, c, True, FAILED) if self.may("tool-failure") else []

    def ToolAbort(self, s, p, c):
        return self._tool(s, c, s["ph"] == CANCEL, ABORTED)

    def _draining(self, s):
        return z3.And(z3.Or(s["ph"] == DRAIN, s["ph"] == CANCEL), s["dr"] < s["nf"])

    def DrainOutput(self, s, p, c):  # _drain_actions: the head has finished
        head = s["infl"][s["dr"]]
        g = z3.And(self._draining(s), z3.Or(head == DONE, head == ABORTED))
        t = _set(self.record(s, "output", s["base"] + s["dr"]), dr=s["dr"] + 1)
        return [(g, self.after_drain(t, p))]

    def DrainFailed(self, s, p, c):
        g = z3.And(self._draining(s), s["infl"][s["dr"]] == FAILED)
        t = self.record(s, "output", s["base"] + s["dr"], real=False) if self.d.persist_synthetic else s
        return [(g, self.after_drain(_set(t, dr=s["dr"] + 1), p))]

    def HardAbort(self, s, p, c):
        if not self.d.hard_abort_drain:
            return []
        g = z3.And(s["ph"] == CANCEL, s["dr"] < s["nf"])
        return [(g, self.lose_in_flight(s))]

    def TurnAborted(self, s, p, c):
        g = z3.And(s["ph"] == CANCEL, s["dr"] >= s["nf"])
        t = self.end_turn(s, p)
        return [(g, _set(t, turns=z3.If(s["turns"] > 1, s["turns"], 1)))]

    def Crash(self, s, p, c):  # _crash, the writer caught up (the model's second reduction)
        if not self.may("crash"):
            return []
        g = z3.And(s["ph"] != DOWN, s["ph"] != REFUSED)
        t = self.end_turn(s, p)
        # the file now holds what the rollout held: the record is still known if it equalled history
        t = _set(t, ph=z3.IntVal(DOWN), base=s["nxt"], hok=z3.And(s["hok"], s["fqeq"]),
                 kept=z3.BoolVal(True), fqeq=z3.BoolVal(True), wf=s["fwf"], omax=s["fomax"], ifr=z3.BoolVal(True))
        return [(g, t)]

    def _unanswered(self, s, c):
        """The file has a call with no output: known exactly for an orderly record."""
        return z3.If(s["hok"], s["plo"] < s["phi"], c.bool("unanswered"))

    def Resume(self, s, p, c):  # _resume: history = normalize(file), in memory
        g = s["ph"] == DOWN
        if self.d.refuse_unanswered_resume:
            g = z3.And(g, z3.Not(self._unanswered(s, c)))
        t = _set(s, ph=z3.IntVal(IDLE), turns=z3.If(s["turns"] > 1, s["turns"], 1), cok=z3.BoolVal(False),
                 nc=z3.IntVal(0), rsn=z3.BoolVal(False), txt=z3.IntVal(0), nf=z3.IntVal(0), dr=z3.IntVal(0),
                 base=s["nxt"], ex=z3.IntVal(X_NONE), rt=p.R, pr=z3.BoolVal(False), ptx=z3.BoolVal(False))
        # every normalization of a well-formed file is well formed, and so is the file plus the
        # made-up outputs it queues (they answer its unanswered calls); ids stay below next
        t = _set(t, wf=s["fwf"], omax=s["nxt"], fomax=s["nxt"], ifr=z3.BoolVal(True))
        opened = s["plo"] < s["phi"]
        mode = self.d.normalization
        if mode == "none":
            t = _set(t, kept=z3.BoolVal(True), fqeq=z3.BoolVal(True))
        elif mode == "ours":  # an orderly file gets synthetic outputs for its pending calls, at the end
            closed = _set(t, **h_close(self.d, _hist(s)))
            fq = z3.Or(z3.Not(opened), z3.BoolVal(self.d.persist_synthetic))
            t = merge(s["hok"], _set(closed, kept=z3.BoolVal(True), fqeq=fq),
                      _set(t, hok=z3.BoolVal(False), kept=z3.Or(s["fwf"], c.bool("kept")), fqeq=c.bool("fqeq")))
        else:  # codex: "aborted" right after each unanswered call splits the group
            t = merge(s["hok"], _set(t, hok=z3.Not(opened), kept=z3.BoolVal(True), fqeq=z3.Not(opened)),
                      _set(t, hok=z3.BoolVal(False), kept=z3.Or(s["fwf"], c.bool("kept")), fqeq=c.bool("fqeq")))
        return [(g, t)]

    def ResumeRefused(self, s, p, c):
        if not self.d.refuse_unanswered_resume:
            return []
        return [(z3.And(s["ph"] == DOWN, self._unanswered(s, c)), _set(s, ph=z3.IntVal(REFUSED)))]

    # ---- the relation ------------------------------------------------------------------------------
    def cases(self, action: str, s: dict, p: Params, tag: str = "") -> tuple[list, Choices]:
        c = Choices(action, tag)
        cases = getattr(self, action)(s, p, c)
        fault = M.ACTIONS[action].fault
        if fault is not None:  # the fault is recorded as used; with a budget, it must be left
            u = USED[fault]
            budget = z3.BoolVal(True)
            if self.max_faults is not None:
                spent = z3.Sum(*[z3.If(s[x], 1, 0) for x in USED.values()])
                budget = z3.And(z3.Not(s[u]), spent < self.max_faults)
            cases = [(z3.And(g, budget), _set(t, **{u: z3.BoolVal(True)})) for g, t in cases]
        return cases, c

    def actions(self) -> list[str]:
        """The actions this design can take at all (e.g. RefuseRequest only with validate_before_send)."""
        probe, pp = fresh_state("_probe"), Params.fresh("_probe")
        return [a for a in ACTION_NAMES if self.cases(a, probe, pp)[0]]
