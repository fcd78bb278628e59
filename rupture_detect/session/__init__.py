"""Session analysis: strain and suggested strategies, episodes and repair, 3RS segments, therapist factors."""
