/**
 * The shop's items, one definition for every lesson: a cart filled in lesson 01 and a cart read back
 * in lesson 05 hold the same things, so a learner recognises them (and their 3700 total) throughout.
 */
export const macbook = { name: 'MacBook Pro', price: 2500 };
export const iphone = { name: 'iPhone 15', price: 1200 };
export const airpods = { name: 'AirPods', price: 250 };
