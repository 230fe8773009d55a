// Word statistics for the text given as arguments; prints one line.
const text = process.argv.slice(2).join(" ");
const words = text.split(/\s+/).filter(Boolean).length;
const sentences = text.split(/[.!?]+/).filter((s) => s.trim() !== "").length;
console.log(`${words} words, ${sentences} sentence(s), ${words > 40 ? "long" : "short"}`);
