"""Who a client is and what it may do: one login and one authorization map for every door."""
