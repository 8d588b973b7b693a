/** The version table used by the versioning tests (same shape as API_VERSIONS in vitest.config.mts). */
export const FIXTURE_TABLE_INPUT = [
  {
    version: "2023-08-01",
    status: "deprecated",
    origin: "https://v2023-08-01.origin.test",
    deprecated_on: "2024-06-01",
    sunset: "2099-12-31",
  },
  {
    version: "2023-01-01",
    status: "deprecated",
    origin: "https://v2023-01-01.origin.test",
    deprecated_on: "2023-08-01",
    sunset: "2024-01-01",
  },
  { version: "2024-06-01", status: "stable", origin: "https://v2024-06-01.origin.test" },
  { version: "2024-11-15", status: "stable", origin: "https://v2024-11-15.origin.test" },
  { version: "2025-03-01", status: "preview", origin: "https://preview.origin.test" },
] as const;

/** A fixed "today" for resolution tests, after 2023-01-01's sunset and before 2023-08-01's. */
export const TODAY = "2025-06-15";
