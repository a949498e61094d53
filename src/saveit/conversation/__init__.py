"""What guests talk to: understanding (es/en), the dialogue, and its replies."""
