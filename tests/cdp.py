"""cdp.py: a small client of Chromium's DevTools protocol (CDP) for the
browser tests (tests/test_html_browser.py), over one websocket
(python3-websocket) with flattened sessions.

Chromium() starts Debian's headless Chromium (--headless=new --no-sandbox:
CI runs as root, --remote-debugging-port=0: the port is read from the
profile's DevToolsActivePort) with a throw-away profile; Chromium.page()
opens a tab (Page) that
  - lets the browser load only the file:// URL it was sent to (goto): every
    other request fails in Fetch (and the network is emulated offline);
  - records every request it sees (Network.requestWillBeSent and
    Fetch.requestPaused) in .requests;
  - records console errors, uncaught exceptions and error log entries
    (Runtime.consoleAPICalled error/assert, Runtime.exceptionThrown,
    Log.entryAdded level error) in .errors;
and has eval() (Runtime.evaluate, by value), click() (real mouse events
at an element's box), screenshot() (full page, PNG) and viewport().
Errors of the protocol raise CDPError."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import websocket


class CDPError(RuntimeError):
    pass


def find_chromium():
    """$CHROMIUM if set, else Debian's chromium (or another Chromium on PATH); None if there is none."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    for c in ("chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"):
        if shutil.which(c):
            return shutil.which(c)
    return None


class Chromium:
    def __init__(self, binary=None, timeout=30.0, log_dir=None):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise FileNotFoundError("chromium not found (Debian package chromium, scripts/install-deps.sh)")
        self.profile = tempfile.mkdtemp(prefix="chromium.", dir=log_dir)
        self.log_path = os.path.join(log_dir or self.profile, "chromium.log")
        self._log = open(self.log_path, "wb")
        args = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--font-render-hinting=none", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        t0 = time.monotonic()
        lines = []
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise CDPError(f"chromium exited with {self.proc.returncode} before DevTools was up: {self.log_tail()}")
            if os.path.exists(port_file):
                lines = open(port_file).read().split()
                if len(lines) >= 2:
                    break
            time.sleep(0.05)
        if len(lines) < 2:
            self.close()
            raise CDPError(f"no DevToolsActivePort after {timeout:.0f} s: {self.log_tail()}")
        self.startup_seconds = time.monotonic() - t0
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{lines[0]}{lines[1]}", suppress_origin=True,
                                              timeout=timeout)
        self.timeout = timeout
        self._id = 0
        self._sessions = {}
        self.version = self.call("Browser.getVersion")["product"]

    def log_tail(self, n=600):
        try:
            self._log.flush()
            return open(self.log_path, "rb").read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- messages ----
    def send(self, method, params=None, session=None):
        """Send a command without waiting for its answer; returns its id."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        return self._id

    def _dispatch(self, msg):
        sid = msg.get("sessionId")
        if "method" in msg and sid in self._sessions:
            self._sessions[sid]._event(msg["method"], msg.get("params", {}))

    def _recv(self, deadline):
        self.ws.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None

    def call(self, method, params=None, session=None, timeout=None):
        """Send a command and wait for its result (events meanwhile go to their pages)."""
        i = self.send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            msg = self._recv(deadline)
            if msg is None:
                break
            if msg.get("id") == i:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._dispatch(msg)
        raise CDPError(f"{method}: no answer in {timeout or self.timeout:.0f} s")

    def pump(self, until=lambda: False, timeout=None):
        """Handle events until until() holds or timeout seconds pass; returns until()."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not until() and time.monotonic() < deadline:
            msg = self._recv(deadline)
            if msg is not None:
                self._dispatch(msg)
        return until()

    def page(self):
        return Page(self)

    def close(self):
        try:
            if getattr(self, "ws", None):
                try:
                    self.send("Browser.close")
                    self.ws.close()
                except Exception:  # noqa: BLE001 - the browser may be gone already
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            self._log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser):
        self.b = browser
        self.target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.sid = browser.call("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        browser._sessions[self.sid] = self
        self.requests = []   # (how it was seen, url), in order
        self.errors = []     # one line per console error, exception or error log entry
        self.allowed = set()
        self.loads = 0
        for m in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(m)
        self.call("Network.emulateNetworkConditions",
                  {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})

    def call(self, method, params=None, timeout=None):
        return self.b.call(method, params, self.sid, timeout)

    def _event(self, method, p):
        if method == "Network.requestWillBeSent":
            self.requests.append(("network", p["request"]["url"]))
        elif method == "Fetch.requestPaused":
            url = p["request"]["url"]
            self.requests.append(("fetch", url))
            if url.split("#")[0] in self.allowed:
                self.b.send("Fetch.continueRequest", {"requestId": p["requestId"]}, self.sid)
            else:
                self.b.send("Fetch.failRequest", {"requestId": p["requestId"], "errorReason": "BlockedByClient"},
                            self.sid)
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text", "")
            self.errors.append(f"exception at {d.get('url', '')}:{d.get('lineNumber', 0) + 1}: {text}")
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.errors.append(f"console.{p['type']}: {args}")
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            e = p["entry"]
            self.errors.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
        elif method == "Page.loadEventFired":
            self.loads += 1

    def goto(self, url, timeout=30):
        """Navigate to url (only it may load) and wait for its load event."""
        self.allowed = {url.split("#")[0]}
        n = self.loads
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CDPError(f"navigate {url}: {r['errorText']}")
        if not self.b.pump(lambda: self.loads > n, timeout):
            raise CDPError(f"{url}: no load event in {timeout} s")
        self.settle()

    def reload(self, timeout=30):
        n = self.loads
        self.call("Page.reload", {"ignoreCache": True})
        if not self.b.pump(lambda: self.loads > n, timeout):
            raise CDPError(f"reload: no load event in {timeout} s")
        self.settle()

    def settle(self, seconds=0.2):
        """Let late events (console messages, layout) arrive."""
        self.b.pump(timeout=seconds)

    def eval(self, expr):
        """Evaluate a JavaScript expression in the page; its value (JSON)."""
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError(f"evaluate: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def viewport(self, width, height, mobile=False, scale=1):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})
        self.call("Emulation.setTouchEmulationEnabled", {"enabled": bool(mobile)})

    def click(self, selector):
        """A real left click (mouse moved, pressed, released) at the centre of the element's box."""
        box = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
        if box is None:
            raise CDPError(f"click: no element {selector}")
        x, y = box
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for t in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": t, "x": x, "y": y, "button": "left", "clickCount": 1})
        self.settle(0.05)

    def screenshot(self, path, max_height=16000):
        """The full page as a PNG (at most max_height CSS pixels tall); returns (width, height)."""
        m = self.call("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        vp = m.get("cssLayoutViewport") or m["layoutViewport"]
        w = max(int(vp["clientWidth"]), int(size["width"]))
        h = min(max_height, int(size["height"]))
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "fromSurface": True,
                                                 "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}},
                      timeout=60)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return w, h

    def close(self):
        self.b._sessions.pop(self.sid, None)
        try:
            self.b.call("Target.closeTarget", {"targetId": self.target})
        except CDPError:
            pass
