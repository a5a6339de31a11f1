"""What a person sees while a run trains: a progress bar with loss, throughput and ETA, and a
line per validation. Drawn from the Trainer's events (the library itself never prints).

On a terminal the bar redraws in place; in a log file (CI, ``nohup``) it prints a plain line at
most every ``every_s`` seconds, so logs stay readable.
"""

import math
import sys
import time


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def rate(value: float) -> str:
    return f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}"


class Progress:
    def __init__(self, stream=None, every_s: float = 30.0, width: int = 24):
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every_s, self.width = every_s, width
        self.max_steps, self.budget, self.items = 0, 0.0, "items"
        self._last_print, self._bar_shown = 0.0, False

    def __call__(self, kind: str, info: dict) -> None:
        getattr(self, f"on_{kind}", lambda info: None)(info)

    def _line(self, text: str) -> None:
        if self._bar_shown:
            self.stream.write("\r\x1b[2K")
            self._bar_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def on_info(self, info: dict) -> None:
        parts = [
            f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')} {v}"
            for k, v in info.items()
        ]
        self._line("  " + " · ".join(parts))

    def on_stage(self, info: dict) -> None:
        """A line of an experiment's own (e.g. which training of a sweep starts or ended)."""
        self._line("  " + info["text"])

    def on_restart(self, info: dict) -> None:
        self._line(
            "  no checkpoint yet (the run stopped before its first one, written every "
            f"{info['checkpoint_every']:,} steps): training from step 0 in the same folder"
        )

    def on_start(self, info: dict) -> None:
        self.max_steps, self.budget, self.items = (
            info["max_steps"],
            info["time_budget"],
            info["items"],
        )
        if not info.get("announce", True):
            return
        limits = []
        if self.max_steps:
            limits.append(f"{self.max_steps:,} steps")
        if self.budget:
            minutes, seconds = divmod(round(self.budget), 60)
            limits.append(f"{minutes} min {seconds} s" if seconds else f"{minutes} minutes")
        what = f"resuming at step {info['step']:,}" if info["resumed"] else "training"
        tail = ", whichever comes first" if len(limits) > 1 else ""
        self._line(f"  {what}: until {' or '.join(limits)}{tail}")

    def fraction(self, step: int, elapsed: float) -> float:
        by_steps = step / self.max_steps if self.max_steps else 0.0
        by_time = elapsed / self.budget if self.budget else 0.0
        return min(1.0, max(by_steps, by_time))

    def on_train(self, info: dict) -> None:
        frac = self.fraction(info["step"], info["elapsed"])
        filled = int(frac * self.width)
        text = (
            f"  [{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} step {info['step']:,}"
            f" · loss {info['loss']:.3f} · {rate(info['rate'])} {self.items}/s"
            f" · {duration(info['elapsed'])} · ETA {duration(info['eta'])}"
        )
        if self.live:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            self._bar_shown = True
        elif time.monotonic() - self._last_print >= self.every_s:
            self._line(text)
            self._last_print = time.monotonic()

    def on_eval(self, info: dict) -> None:
        loss = info["metrics"]["loss"]
        mark = " · best so far" if info["improved"] else f" · best {info['best']:.4f}"
        others = "".join(f" · {k} {v:.4f}" for k, v in info["metrics"].items() if k != "loss")
        self._line(
            f"  step {info['step']:,}: validation loss {loss:.4f} nats"
            f" ({loss / math.log(2):.4f} bits){others}{mark}"
        )

    def on_end(self, info: dict) -> None:
        if self._bar_shown:
            self.stream.write("\n")
            self._bar_shown = False
        self.stream.flush()
