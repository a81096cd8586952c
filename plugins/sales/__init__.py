"""B2B project sales: leads, opportunities, quotes, contracts and forecasts."""
