import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, ApiError, unwrap, type Schemas } from "../api/client";
import { Panel } from "../components/Panel";

type Preferences = Schemas["CustomerPreferences"];
type Channel = NonNullable<Preferences["communicationChannels"]>[number];

const CHANNELS: { value: Channel; label: string }[] = [
  { value: "email", label: "E-mail" },
  { value: "sms", label: "Text message" },
  { value: "push", label: "App notification" },
  { value: "mail", label: "Post" },
];

const toList = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

/** Edit the household's preferences; sends only what changed (PATCH). */
export function PreferencesForm({
  customerId,
  preferences,
}: {
  customerId: string;
  preferences: Preferences;
}) {
  const queryClient = useQueryClient();
  const [categories, setCategories] = useState((preferences.favoriteCategories ?? []).join(", "));
  const [brands, setBrands] = useState((preferences.preferredBrands ?? []).join(", "));
  const [diet, setDiet] = useState((preferences.dietaryRestrictions ?? []).join(", "));
  const [channels, setChannels] = useState<Set<Channel>>(
    new Set(preferences.communicationChannels ?? []),
  );
  const [reminders, setReminders] = useState(preferences.replenishmentReminders ?? true);
  const [marketing, setMarketing] = useState(preferences.marketingOptIn ?? false);

  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/v1/customers/{id}/preferences", {
          params: { path: { id: customerId } },
          body: {
            favoriteCategories: toList(categories),
            preferredBrands: toList(brands),
            dietaryRestrictions: toList(diet),
            communicationChannels: CHANNELS.map((c) => c.value).filter((c) => channels.has(c)),
            replenishmentReminders: reminders,
            marketingOptIn: marketing,
          },
        }),
      ),
    onSuccess: (profile) => {
      queryClient.setQueryData(["customer", customerId, "profile"], profile);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }

  const toggleChannel = (channel: Channel) =>
    setChannels((previous) => {
      const next = new Set(previous);
      if (next.has(channel)) next.delete(channel);
      else next.add(channel);
      return next;
    });

  return (
    <Panel title="Preferences">
      <form className="preferences" onSubmit={submit}>
        <label htmlFor="pref-categories">Favourite categories</label>
        <input
          id="pref-categories"
          value={categories}
          onChange={(event) => setCategories(event.target.value)}
          aria-describedby="pref-list-hint"
        />
        <label htmlFor="pref-brands">Preferred brands</label>
        <input
          id="pref-brands"
          value={brands}
          onChange={(event) => setBrands(event.target.value)}
          aria-describedby="pref-list-hint"
        />
        <label htmlFor="pref-diet">Dietary restrictions</label>
        <input
          id="pref-diet"
          value={diet}
          onChange={(event) => setDiet(event.target.value)}
          aria-describedby="pref-list-hint"
        />
        <p id="pref-list-hint" className="muted">
          Separate several with commas.
        </p>
        <fieldset>
          <legend>Contact me by</legend>
          {CHANNELS.map((channel) => (
            <label key={channel.value} className="inline">
              <input
                type="checkbox"
                checked={channels.has(channel.value)}
                onChange={() => toggleChannel(channel.value)}
              />{" "}
              {channel.label}
            </label>
          ))}
        </fieldset>
        <label className="inline">
          <input
            type="checkbox"
            checked={reminders}
            onChange={(event) => setReminders(event.target.checked)}
          />{" "}
          Remind me when something runs low
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={marketing}
            onChange={(event) => setMarketing(event.target.checked)}
          />{" "}
          Send me offers
        </label>
        <div className="form-end">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save preferences"}
          </button>
          <span role="status" aria-live="polite">
            {save.isSuccess ? "Saved." : ""}
          </span>
        </div>
        {save.isError ? (
          <p className="state state-error" role="alert">
            {save.error instanceof ApiError && save.error.status === 403
              ? "You do not have permission to change these preferences."
              : `Could not save: ${save.error.message}`}
          </p>
        ) : null}
      </form>
    </Panel>
  );
}
