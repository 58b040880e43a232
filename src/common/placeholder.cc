// Placeholder translation unit until the common library sources land.
