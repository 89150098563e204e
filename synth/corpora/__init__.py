"""Speech, music and ink corpora that can be built offline."""
