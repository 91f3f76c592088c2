"""One settings object shared by ingest, the query engine, the CLIs and the web UI.

Every field is read from an ``ASSISTANT_*`` environment variable or a ``.env`` file in
the working directory; an empty value (``ASSISTANT_LLM=``) counts as unset. A few fields
also accept the variable the wider ecosystem uses (``OPENAI_API_KEY``,
``GRADIO_SERVER_NAME``/``_PORT``). The names are a public contract (users script against
them), so rename nothing here without a deprecation path; the README documents each one.

Derived values (which LLM backend is in force, its model, where the BM25 cache lives) are
resolved once, in the validator below, so every reader sees the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbeddingBackend = Literal["local", "openai", "openai-compatible"]
LLMBackend = Literal["extractive", "openai", "openai-compatible"]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
MAX_PAPERS = 50  # the most papers one call may ask for (top_k, k)


class Settings(BaseSettings):
    """All knobs of the assistant. Construct with keyword overrides in code or tests."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
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
        description="Where the BM25 index is persisted; default <chroma_path>/../cache/<name>.",
    )

    # --- embeddings --------------------------------------------------------------
    embedding: EmbeddingBackend = "local"
    embedding_base_url: str | None = None
    embedding_model: str | None = Field(
        None,
        description="Model name; default all-MiniLM-L6-v2 (local) or text-embedding-3-small.",
    )
    embedding_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_EMBEDDING_API_KEY", "OPENAI_API_KEY")
    )
    embedding_batch_size: int = Field(
        16, ge=1, le=4096, description="Texts per model call; 16 is fastest on a 2-core CPU."
    )
    write_batch: int = Field(
        256,
        ge=1,
        le=4096,
        description="Chunks an ingest embeds and writes to Chroma per step: what a killed "
        "ingest can lose (the next run resumes after the last whole step) and how often "
        "progress is reported.",
    )
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps …")
    model_cache_dir: Path | None = Field(
        None,
        description="Where the local model's ONNX export is kept (one per machine and user); "
        "default $XDG_CACHE_HOME/paper-assistant/models.",
    )

    # --- answering ---------------------------------------------------------------
    llm: LLMBackend | None = Field(
        None, description="Answer backend; default extractive (no LLM) unless a model is set."
    )
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM call gives up.")
    llm_context_window: int = Field(8192, ge=512)
    verify_with_llm: bool = Field(
        True,
        description="With an LLM backend, one more call through the same endpoint checks the "
        "claims the deterministic checks found supported (no effect on the extractive "
        "backend); off for offline measurement.",
    )
    verify_timeout: float = Field(
        20.0, gt=0, description="Deadline in seconds for that whole verification call."
    )
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=16)
    top_k: int = Field(5, ge=1, le=MAX_PAPERS, description="Papers retrieved per question.")
    tuning_file: Path | None = Field(
        None,
        description="A JSON file of tuned values over the defaults (assistant/tuning.py).",
    )

    # --- web UI --------------------------------------------------------------------
    host: str = Field(
        "127.0.0.1",
        validation_alias=AliasChoices("ASSISTANT_HOST", "GRADIO_SERVER_NAME"),
        description="Bind address.",
    )
    port: int = Field(7860, validation_alias=AliasChoices("ASSISTANT_PORT", "GRADIO_SERVER_PORT"))
    share: bool = Field(False, description="Gradio public share link; off by default.")
    auth_user: str | None = Field(None, description="Login name; needs auth_password too.")
    auth_password: SecretStr | None = Field(None, description="Login password; needs auth_user.")
    allow_public: bool = Field(
        False,
        description="Serve without a login on a non-loopback address or share link (refused "
        "otherwise).",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins from one client address before it is refused."
    )
    login_lockout_seconds: float = Field(
        300.0,
        gt=0,
        description="Window in which failed logins are counted; a refused client waits until "
        "its oldest counted failure is this old.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names the app answers to besides the loopback names "
        "and the bound address (a public name such as papers.example.org); any other Host "
        "header is refused (DNS rebinding).",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For is believed; by default none is.",
    )
    concurrency_limit: int = Field(4, ge=1)
    refresh_seconds: float = Field(
        1.0,
        ge=0,
        description="How often the web app checks the store for a new ingest (0: never).",
    )
    max_question_chars: int = Field(2000, ge=10)
    ready_wait_seconds: float = Field(
        300.0,
        ge=0,
        description="How long an API call made while the engine starts (a first-start "
        "ingest) waits for it before failing with a retryable error.",
    )

    @field_validator("llm", "embedding", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        """``ASSISTANT_LLM=OpenAI`` means openai."""
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        """Settle the values other settings imply, once for every reader."""
        if self.llm is None:  # a configured endpoint and model select it
            self.llm = "openai-compatible" if self.llm_base_url and self.llm_model else "extractive"
        if self.llm == "openai" and not self.llm_model:
            self.llm_model = DEFAULT_OPENAI_MODEL
        elif self.llm == "extractive":
            self.llm_model = None  # nothing generates: no model to report
        if self.cache_dir is None:
            if self.chroma_host:
                self.cache_dir = Path("./data/cache") / f"{self.chroma_host}_{self.chroma_port}"
            else:
                self.cache_dir = self.chroma_path.parent / "cache" / self.chroma_path.name
        return self

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with some fields changed, validated (and re-resolved) like a fresh one."""
        values = self.model_dump()
        values.update(overrides)
        return type(self).model_validate(values)

    @property
    def llm_key(self) -> str | None:
        """The LLM key as plain text, for the client that sends it; never log it."""
        return _plain(self.llm_api_key)

    @property
    def embedding_key(self) -> str | None:
        return _plain(self.embedding_api_key)

    def missing_llm_key(self) -> str | None:
        """Why the configured LLM cannot be called at all (OpenAI without a key), or None:
        a plain check, so the CLI says it before the engine's libraries load."""
        if self.llm == "openai" and not self.llm_key:
            return "ASSISTANT_LLM=openai needs OPENAI_API_KEY or ASSISTANT_LLM_API_KEY"
        return None

    def missing_index(self) -> str | None:
        """Why there is nothing to query (an embedded store whose folder does not exist),
        or None; a plain check, like :meth:`missing_llm_key`."""
        if self.chroma_host or Path(self.chroma_path).exists():
            return None
        return (
            f"no index at {self.chroma_path}: run `python -m ingest` first "
            "(or set ASSISTANT_CHROMA_PATH)"
        )

    def describe_store(self) -> str:
        """Human-readable location of the vector store, free of secrets."""
        if self.chroma_host:
            scheme = "https" if self.chroma_ssl else "http"
            return f"Chroma server {scheme}://{self.chroma_host}:{self.chroma_port}"
        return f"Chroma at {self.chroma_path}"


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() or None if secret is not None else None
