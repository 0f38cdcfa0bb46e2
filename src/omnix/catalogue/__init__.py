"""The product catalogue, kept from what purchases and imports say."""
