"""Import Gradio without it rewriting its own type stubs at every start.

As each Gradio component class is defined, Gradio re-reads and ``ast``-parses the source of
the component's module to regenerate a ``.pyi`` stub beside it
(``gradio.component_meta.create_or_modify_pyi``). That step serves Gradio's own developers;
the stubs in the installed wheel are already current. It costs the app about 3 s of CPU at
every start on a 2-core machine (a third of importing Gradio) and writes into site-packages
when it can. The app imports Gradio through :func:`import_gradio`, which skips that step and
nothing else; if a Gradio release renames the function, the import simply runs as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

_COMPONENT_META = "gradio.component_meta"
_STUB_WRITER = "create_or_modify_pyi"


def _no_stub_rewrite(*args: object, **kwargs: object) -> None:
    return None


class _SkipStubRewrite(importlib.abc.MetaPathFinder):
    """Finds ``gradio.component_meta`` as usual, and swaps out its stub writer once the
    module has run (before any component class is defined)."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001 (importlib's signature)
        if name != _COMPONENT_META:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            if callable(getattr(module, _STUB_WRITER, None)):
                setattr(module, _STUB_WRITER, _no_stub_rewrite)

        spec.loader.exec_module = exec_module  # this spec's loader only
        return spec


def import_gradio() -> ModuleType:
    """``import gradio``, without the stub rewrite (a no-op if Gradio is already loaded)."""
    if "gradio" not in sys.modules:
        finder = _SkipStubRewrite()
        sys.meta_path.insert(0, finder)
        try:
            import gradio  # noqa: F401 (loaded for sys.modules)
        finally:
            sys.meta_path.remove(finder)
    return sys.modules["gradio"]
