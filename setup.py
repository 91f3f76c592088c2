"""Ships ``prompts/`` inside the wheel as ``assistant/prompt_texts/`` (all metadata is in
pyproject.toml).

The prompts stay at the top of the checkout, easy to find and edit. A package-dir mapping
(``assistant.prompt_texts = "prompts"``) would ship them declaratively, but a mapped
package makes the layout non-simple: ``pip install -e .`` then goes through a meta path
finder and setuptools warns (BuildBackendWarning "Editable installation"). Copying the
files at build time keeps the layout simple; an editable install reads them from
``prompts/`` directly (``assistant/prompts.py``).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROMPTS = Path(__file__).resolve().parent / "prompts"


class BuildPyWithPrompts(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, "assistant", "prompt_texts")
        self.mkpath(str(target))
        for prompt in sorted(PROMPTS.glob("*.txt")):
            self.copy_file(str(prompt), str(target / prompt.name))


setup(cmdclass={"build_py": BuildPyWithPrompts})
