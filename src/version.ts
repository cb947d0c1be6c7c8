// Kept in step with package.json by hand: reading package.json at run time would tie the build layout to it.
export const MOAT_VERSION = '0.1.0';
