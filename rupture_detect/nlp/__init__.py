"""The spaCy side: the pipeline, one component per module (``dialogue_acts``, ``rupture_markers``,
``repair_strategies``), the rules they run, their ``Doc`` extensions and the conversation structure
(backchannels, continuations, talk style) the rules and the model share."""
