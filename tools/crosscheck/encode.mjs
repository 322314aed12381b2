import { TokenizerLoader } from "@lenml/tokenizers";
import fs from "fs";
const [,, tokPath, casesPath] = process.argv;
const tokenizerJSON = JSON.parse(fs.readFileSync(tokPath, "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: {} });
const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const out = cases.map(text => ({ text, ids: tokenizer.encode(text, { add_special_tokens: false }) }));
console.log(JSON.stringify(out));
