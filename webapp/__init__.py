"""The review web app (`tagwatch serve`); pages over review/ and the warehouse."""
