"""The scaler service: calendar autoscale of placeholder pods (see app.py)."""
