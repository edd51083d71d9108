"""Streamlit pages of the review app. Layout only: the data comes from review.*."""
