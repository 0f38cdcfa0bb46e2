"""The reference point: a bare FastAPI JSON endpoint, served like OMNIX."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/v1/customers/{customer_id}/profile")
async def profile(customer_id: str) -> dict[str, object]:
    return {"customerId": customer_id, "ok": True}
