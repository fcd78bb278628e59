"""The one scoring run: scorers (:mod:`.scorers`), per-transcript scoring (:mod:`.scoring`) and the batch
run over files, tables, worker processes or a Dask cluster (:mod:`.batch`)."""
