"""Guest messaging channels: one message model, one adapter per provider, one gateway."""
