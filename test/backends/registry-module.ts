// A --registry module for `taifeng worker` in the tests: the test registry over $TAIFENG_TEST_DIR.
import { testRegistry } from "./registry.ts";

export const registry = testRegistry(process.env.TAIFENG_TEST_DIR ?? "/tmp", 5);
