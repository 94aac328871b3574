"""The KV state of the prompt's fixed opening, kept on disk so a new session does not prefill it.

Every `agent fix` starts with the same system prompt and tool schemas (~1,400 tokens with the
default tools), which the 1.5B model prefills at ~30 tok/s on two cores: 45 s of every run before
the task is even read. The first session saves llama.cpp's state for exactly those tokens
(`llama_state_save_file`); later sessions with the same model, context size and llama.cpp load it
in well under a second and prefill only what follows. A state whose tokens are not the opening
the prompt starts with is never loaded: the tokens are checked from a sidecar file first.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
from pathlib import Path
from typing import Any

MIN_TOKENS = 256  # a shorter opening is prefilled in a few seconds: not worth a file


class PrefixCache:
    def __init__(self, directory: Path, llama: Any) -> None:
        import llama_cpp

        self.llama = llama
        model = Path(str(llama.model_path))
        try:
            stat = model.stat()
            identity = f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            identity = str(model)
        key = f"{identity}:{llama.n_ctx()}:{llama_cpp.__version__}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.state_path = directory / f"{model.stem}-{digest}.kv"
        self.tokens_path = directory / f"{model.stem}-{digest}.tokens.json"

    def saved_tokens(self) -> list[int]:
        try:
            tokens = json.loads(self.tokens_path.read_text())
        except (OSError, ValueError):
            return []
        ok = isinstance(tokens, list) and all(isinstance(t, int) for t in tokens)
        return tokens if ok and self.state_path.is_file() else []

    def restore(self, opening: list[int]) -> int:
        """Load the saved state if its tokens are exactly `opening`; the tokens now in the KV cache."""
        import llama_cpp

        if len(opening) < MIN_TOKENS or self.saved_tokens() != opening:
            return 0
        capacity = len(opening)
        buffer = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        self.llama.reset()
        loaded = llama_cpp.llama_state_load_file(
            self.llama._ctx.ctx, str(self.state_path).encode(), buffer, capacity, ctypes.byref(count)
        )
        if not loaded or list(buffer[: count.value]) != opening:  # unreadable or not ours: start clean
            self.llama.reset()
            self.llama._ctx.kv_cache_clear()
            self._remove()
            return 0
        self.llama.input_ids[: count.value] = opening
        self.llama.n_tokens = count.value
        return count.value

    def save(self, opening: list[int]) -> bool:
        """Prefill `opening` from an empty cache and write its state (to a temporary name first)."""
        import llama_cpp

        if len(opening) < MIN_TOKENS:
            return False
        self.llama.reset()
        self.llama._ctx.kv_cache_clear()
        self.llama.eval(opening)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_name(self.state_path.name + f".{os.getpid()}.part")
        array = (llama_cpp.llama_token * len(opening))(*opening)
        try:
            if not llama_cpp.llama_state_save_file(
                self.llama._ctx.ctx, str(partial).encode(), array, len(opening)
            ):
                return False
            os.replace(partial, self.state_path)
            self.tokens_path.write_text(json.dumps(opening))
        except OSError:
            return False
        finally:
            partial.unlink(missing_ok=True)
        return True

    def _remove(self) -> None:
        for path in (self.state_path, self.tokens_path):
            path.unlink(missing_ok=True)
