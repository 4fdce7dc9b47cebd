"""`handoff sandbox serve` in a real process, for tests and the chaos bench."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parents[2]
_SERVING = re.compile(r"sandboxes serving on (http://\S+)")


# the store's OAuth tokens are encrypted with it (PostgreSQL requires one; SQLite makes its own)
SECRET_KEY = Fernet.generate_key().decode()


def handoff_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HANDOFF_SECRET_KEY": SECRET_KEY, **extra}
    env.pop("HANDOFF_MAP", None)
    return env


@dataclass
class ServedSandboxes:
    """One ``handoff sandbox serve`` process on a free port with its state in ``state``."""

    state: Path
    vendors: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    process: subprocess.Popen[str] | None = None
    url: str = ""
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> ServedSandboxes:
        command = [sys.executable, "-m", "bot.cli", "sandbox", "serve", *self.vendors]
        command += ["--port", "0", "--state", str(self.state), *self.options]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=handoff_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = _SERVING.search(line)
            if match:
                self.url = match.group(1)
                return self
        self.process.kill()
        raise RuntimeError("sandbox serve did not start: " + "".join(self.output))

    def info(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_sandbox/info", timeout=10) as response:
            info: dict[str, Any] = json.loads(response.read())
        return info

    def base_url(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        data = None
        all_headers = dict(headers or {})
        if form is not None:
            from urllib.parse import urlencode

            data = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=all_headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def fault(self, vendor: str, kind: str, times: int = 1, **options: Any) -> None:
        self.request(
            "POST", f"/{vendor}/_sandbox/faults", {"kind": kind, "times": times, **options}
        )

    def clear_faults(self, vendor: str) -> None:
        self.request("DELETE", f"/{vendor}/_sandbox/faults")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM: the process saves its state and exits."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        if self.process.stdout is not None:
            self.output.extend(self.process.stdout.readlines())
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def served_map(source: Path, sandboxes: ServedSandboxes, out: Path, token_file: Path) -> Path:
    """``source`` (a map whose systems say ``base_url: sandbox``) pointed at ``sandboxes`` by
    URL; Xero keeps its rotating tokens in ``token_file``."""
    import yaml

    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    info = sandboxes.info()["vendors"]
    for system in data["systems"].values():
        if system.get("base_url") != "sandbox":
            continue
        entry = info[system["connector"]]
        system["base_url"] = entry["base_url"]
        options = {k: v for k, v in (system.get("options") or {}).items() if k != "seed"}
        options.update(entry["options"])
        if system["connector"] == "xero":
            options["token_file"] = str(token_file)
        system["options"] = options
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def served_credentials(sandboxes: ServedSandboxes) -> dict[str, str]:
    """The environment variables the demo map's ``env:`` references name, for ``sandboxes``."""
    env: dict[str, str] = {}
    for vendor, entry in sandboxes.info()["vendors"].items():
        for key, value in entry["credentials"].items():
            env[f"{vendor}_{key}".upper()] = value
    return env
