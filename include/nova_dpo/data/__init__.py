"""The data stage: When2Call loading, synthesis, Nova DPO formatting, validation, splits and versions."""
