"""The analytics engine: plain Python over NumPy arrays and Polars frames.

Nothing in this package imports FastAPI, SQLAlchemy, Redis or any other I/O
library. Services load data, call the engine and store what it returns; the
evaluation command calls the very same functions on held-out history.

Frame contracts shared by the engine modules
--------------------------------------------

``lines`` (one row per purchase line):

=============  ======================  =========================================
column         dtype                   meaning
=============  ======================  =========================================
customer_id    Utf8                    the household
order_id       Utf8                    the basket the line belongs to
product_id     Utf8                    the product
purchased_at   Datetime("us", "UTC")   when the basket was paid
quantity       Float64                 units bought, > 0
price          Float64                 unit price, >= 0; line value = qty*price
category       Utf8 (nullable)         the product's category
department     Utf8 (nullable)         the product's department
brand          Utf8 (nullable)         the product's brand
=============  ======================  =========================================

``catalogue`` (one row per product): product_id, name, category, department,
brand, size (all Utf8, nullable except product_id) and ``active`` (Boolean;
inactive products are never recommended).

``customers`` (one row per customer): customer_id, created_at
(Datetime UTC), and the declared demographics, each nullable Utf8:
age_group, income_level, household_size, household_composition,
marital_status, home_ownership, kids_count.

Day boundaries are computed in the store time zone passed by the caller.
"""
