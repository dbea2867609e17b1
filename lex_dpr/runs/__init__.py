"""Reading run folders back: list, show, plot and check them."""
