"""BOM-linked manufacturing orders: versioned bills of materials and sales orders."""
