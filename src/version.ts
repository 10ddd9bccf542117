// The one place the product's version lives.

export const VERSION = "0.1.0";
