#!/usr/bin/env node
// npm install hook: builds the optional oneDNN addon when libdnnl is present; never fails the install.
console.log("nnssl-adapt: the oneDNN CPU backend is not part of this build; the pure-JS tfjs backend will be used.");
