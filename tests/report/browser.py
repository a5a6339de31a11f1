"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``):
no websocket, no extra package. Enough to load a page, collect what it logged as errors, run
a script in it and take a screenshot.

Chromium reads commands from its fd 3 and writes replies and events to its fd 4, one JSON
message each, ended by a NUL byte.
"""

import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install --no-install-recommends chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",  # as root, in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's small /dev/shm would crash the renderer
    # without these it keeps trying to reach Google's servers and logs the refusals
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

# Resolves after the next two frames: what a resize changed has been painted.
FRAMES_PAINTED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process with one tab. ``errors`` collects, per loaded page, what the page
    logged at error level: console.error, uncaught exceptions and failed loads."""

    def __init__(self, profile: Path, executable: Path = CHROMIUM, timeout: float = 30.0):
        self.timeout, self.next_id, self.buffer, self.events = timeout, 0, b"", []
        commands_r, self.commands_w = os.pipe()
        self.replies_r, replies_w = os.pipe()
        # bash moves the pipe ends to Chromium's fds 3 and 4 (no preexec_fn in a process with
        # threads); they are first moved to 10 and up so that no move overwrites the other end.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_r, replies_w)]
        for fd in (commands_r, replies_w):
            os.close(fd)
        commands_r, replies_w = ends
        remap = f'exec "$0" "$@" 3<&{commands_r} 4>&{replies_w} {commands_r}<&- {replies_w}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", remap, str(executable), *FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(commands_r, replies_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: close() can end its helpers too
        )
        os.close(commands_r)
        os.close(replies_w)
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    def send(self, method: str, session: bool = False, **params) -> dict:
        """Send one command (to the tab when ``session``) and wait for its reply."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.commands_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies_r], [], [], left)[0]:
                raise BrowserError(f"no answer from Chromium in {self.timeout} s")
            chunk = os.read(self.replies_r, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium closed the pipe (exit {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str) -> dict:
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._receive())

    def load(self, url: str) -> list[str]:
        """Open ``url``, wait for its load event (images and frames loaded), and return the
        errors it logged meanwhile."""
        self.events = []
        self.send("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("1")  # a round trip, so messages logged during the load have arrived
        return [text for event in self.events if (text := _error_text(event))]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-like values only)."""
        result = self.send("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280, max_height: int = 5000) -> Path:
        """The whole page (up to ``max_height`` CSS pixels) as a PNG at ``path``. The window is
        made as tall as the page: frames of other files (heatmaps in an iframe) are painted
        only inside the window."""
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        height = min(max_height, int(self.evaluate("document.documentElement.scrollHeight")))
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.evaluate(FRAMES_PAINTED)
        shot = self.send("Page.captureScreenshot", session=True, format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                os.write(self.commands_w, json.dumps({"id": 0, "method": "Browser.close"})
                         .encode() + b"\0")  # fmt: skip
                self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        finally:
            os.close(self.commands_w)
            os.close(self.replies_r)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _error_text(event: dict) -> str | None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return "console: " + " ".join(str(a.get("value", a.get("description")))
                                      for a in params.get("args", []))  # fmt: skip
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return "exception: " + details.get("exception", {}).get("description", details.get("text"))
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        return f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
    return None
