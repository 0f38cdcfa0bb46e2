import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { CUSTOMER, failure, json, MANAGER, scriptApi, signInAs, STORE_CONFIG } from "../test/api";
import { profile } from "../test/fixtures";
import { renderApp } from "../test/render";

function loginAnswer(user: typeof MANAGER | typeof CUSTOMER) {
  return json({
    data: { accessToken: "a", refreshToken: "r", tokenType: "Bearer", expiresIn: 900, user },
    message: "Login successful",
  });
}

async function signIn(email: string, password: string) {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText("E-mail"), email);
  await user.type(screen.getByLabelText("Password"), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

describe("sign-in", () => {
  it("sends an anonymous visitor to sign-in", async () => {
    scriptApi({ "GET /v1/config": () => json(STORE_CONFIG) });
    renderApp("/manager");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
  });

  it("lands a manager on the manager dashboard", async () => {
    const api = scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "POST /auth/login": () => loginAnswer(MANAGER),
      "GET /v1/customers": () => json({ items: [], nextCursor: null }),
    });
    renderApp("/sign-in");
    await signIn("manager@omnix.demo", "secret");
    expect(
      await screen.findByRole("heading", { name: "Supermarket manager dashboard" }),
    ).toBeInTheDocument();
    const login = api.calls.find((call) => call.path === "/auth/login");
    expect(JSON.parse(login!.body)).toEqual({ email: "manager@omnix.demo", password: "secret" });
    expect(localStorage.getItem("omnix.refreshToken")).toBe("r");
  });

  it("lands a customer on their own household", async () => {
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "POST /auth/login": () => loginAnswer(CUSTOMER),
      "GET /v1/customers/1364/profile": () => json(profile),
      "GET /v1/customers/1364/purchases": () => json([]),
    });
    renderApp("/sign-in");
    await signIn("customer@omnix.demo", "secret");
    expect(await screen.findByRole("heading", { name: "Welcome back" })).toBeInTheDocument();
    expect(screen.getByText("$120.50")).toBeInTheDocument();
  });

  it("says so when the password is wrong", async () => {
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "POST /auth/login": () => failure(401, "Invalid credentials"),
    });
    renderApp("/sign-in");
    await signIn("manager@omnix.demo", "wrong");
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The e-mail or password is not right.",
    );
  });

  it("returns to sign-in with a notice when the refresh fails", async () => {
    signInAs(CUSTOMER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/customers/1364/profile": () => failure(401, "Token expired"),
      "POST /auth/refresh": () => failure(401, "Refresh token revoked"),
    });
    renderApp("/customers/1364");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Your session has ended");
    await waitFor(() => expect(localStorage.getItem("omnix.accessToken")).toBeNull());
  });

  it("keeps a customer out of the manager dashboard", async () => {
    signInAs(CUSTOMER);
    scriptApi({ "GET /v1/config": () => json(STORE_CONFIG) });
    renderApp("/manager");
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "You do not have permission to see this page.",
    );
  });
});
