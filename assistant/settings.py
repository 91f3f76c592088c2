"""One settings object shared by ingest, the query engine, the CLI and the web UI.

Every field is read from an ``ASSISTANT_*`` environment variable or a ``.env`` file in
the working directory. The names are a public contract (users script against them), so
rename nothing here without a deprecation path; the README documents each one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_PAPERS = PROJECT_ROOT / "data" / "papers"

EmbeddingBackend = Literal["local", "openai", "openai-compatible"]
LLMBackend = Literal["extractive", "openai", "openai-compatible"]


class Settings(BaseSettings):
    """All knobs of the assistant. Construct with keyword overrides in code or tests."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- storage -----------------------------------------------------------------
    chroma_path: Path = Field(Path("./data/chroma"), description="Embedded Chroma directory.")
    chroma_host: str | None = Field(None, description="Chroma server host; set to use a server.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use https to reach the Chroma server.")
    chroma_auth_token: SecretStr | None = Field(
        None, description="Token sent to the Chroma server (Authorization: Bearer …)."
    )
    collection: str = Field("papers", description="Chroma collection name.")
    cache_dir: Path | None = Field(
        None,
        description="Where the BM25 index is persisted; default <chroma_path>/../cache.",
    )

    # --- embeddings --------------------------------------------------------------
    embedding: EmbeddingBackend = "local"
    embedding_base_url: str | None = None
    embedding_model: str | None = Field(
        None,
        description="Model name; default all-MiniLM-L6-v2 (local) or text-embedding-3-small.",
    )
    embedding_api_key: SecretStr | None = None
    embedding_batch_size: int = Field(
        16, ge=1, le=4096, description="Texts per model call; 16 is fastest on a 2-core CPU."
    )
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps …")

    # --- answering ---------------------------------------------------------------
    llm: LLMBackend | None = Field(
        None, description="Answer backend; default extractive (no LLM) unless a model is set."
    )
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM call gives up.")
    llm_context_window: int = Field(8192, ge=512)
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=16)
    top_k: int = Field(5, ge=1, le=50, description="Papers retrieved per question.")

    # --- web UI --------------------------------------------------------------------
    host: str | None = Field(None, description="Bind address; default 127.0.0.1.")
    port: int | None = Field(None, description="Port; default 7860.")
    share: bool = Field(False, description="Gradio public share link; off by default.")
    auth_user: str | None = None
    auth_password: SecretStr | None = None
    concurrency_limit: int = Field(4, ge=1)
    max_question_chars: int = Field(2000, ge=10)

    @field_validator("llm", "embedding", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        """An empty ``ASSISTANT_LLM=`` in a .env file means "not set"."""
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    # --- derived values ----------------------------------------------------------
    @property
    def resolved_llm(self) -> LLMBackend:
        """The answer backend in force: explicit, else inferred from a configured model."""
        if self.llm:
            return self.llm
        if self.llm_base_url and self.llm_model:
            return "openai-compatible"
        return "extractive"

    @property
    def resolved_llm_api_key(self) -> str | None:
        """``ASSISTANT_LLM_API_KEY``, falling back to ``OPENAI_API_KEY``."""
        if self.llm_api_key is not None and self.llm_api_key.get_secret_value():
            return self.llm_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    @property
    def resolved_embedding_api_key(self) -> str | None:
        if self.embedding_api_key is not None and self.embedding_api_key.get_secret_value():
            return self.embedding_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    @property
    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        if self.chroma_host:
            return Path("./data/cache") / f"{self.chroma_host}_{self.chroma_port}"
        return self.chroma_path.parent / "cache" / self.chroma_path.name

    @property
    def resolved_host(self) -> str:
        return self.host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"

    @property
    def resolved_port(self) -> int:
        if self.port is not None:
            return self.port
        return int(os.environ.get("GRADIO_SERVER_PORT") or 7860)

    def describe_store(self) -> str:
        """Human-readable location of the vector store, free of secrets."""
        if self.chroma_host:
            scheme = "https" if self.chroma_ssl else "http"
            return f"Chroma server {scheme}://{self.chroma_host}:{self.chroma_port}"
        return f"Chroma at {self.chroma_path}"
