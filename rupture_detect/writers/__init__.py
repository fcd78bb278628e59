"""Writing: the run's tables (:mod:`.tables`, :mod:`.sinks`), charts, the manifest, and the output folder
swapped in atomically (:mod:`.outdir`)."""
