import { AbTestsPanel } from "./AbTests";
import { CustomerSearch } from "./CustomerSearch";
import { InsightsPanel } from "./InsightsPanel";
import { InventoryPanel, RevenuePanel } from "./RevenueInventory";
import { SegmentsPanel } from "./SegmentsPanel";

export function ManagerDashboard() {
  return (
    <>
      <h1>Supermarket manager dashboard</h1>
      <div className="grid">
        <SegmentsPanel />
        <CustomerSearch />
        <InsightsPanel />
        <AbTestsPanel />
        <InventoryPanel />
        <RevenuePanel />
      </div>
    </>
  );
}

export function CustomersPage() {
  return (
    <>
      <h1>Households</h1>
      <div className="grid">
        <CustomerSearch wide browse />
      </div>
    </>
  );
}
