"""Reading: transcripts in every common format (:mod:`.formats`) into :class:`.transcript.Transcript`,
with located errors and warnings; inputs, folders, globs and rosters (:mod:`.inputs`)."""
