"""The report's Telegram and picture side: the chart drawn (chart.py) and the weekly digest's
timer (digest.py). Figures come from storage, words and shapes from dialogs.reports."""
