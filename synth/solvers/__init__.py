"""Training and evaluation procedures per model kind (what recipes share)."""
