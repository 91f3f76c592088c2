"""Start the web chat: ``python app.py`` (binds 127.0.0.1:7860 unless configured otherwise).

On first start with an empty index it ingests the bundled corpus (progress in the console,
a status line in the page), then serves.
"""

import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant.ui import launch  # noqa: E402

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    launch()
