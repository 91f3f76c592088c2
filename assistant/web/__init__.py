"""The web app: the Gradio page (``ui``), how answers are rendered (``render``), the engine
it serves (``holder``), exposure and login (``exposure``) and serving it all (``server``)."""
