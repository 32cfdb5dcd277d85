"""The conversation and the rules: no Telegram, no SQL in the pure parts."""
